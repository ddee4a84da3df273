// Issue 11's acceptance, the whole control plane at once: two messengers sharing their registry and two node
// managers sharing their state, all on one real Redis, each its own process. A SOCKS transfer of 100 MB (curl
// through socks-client on a, socks-server on d, a 2-hop route a - b|m - d) between a node on M1 (a) and a node on
// M2 (d), while mid-transfer M1 is killed -9 (a fails over to M2 by itself), then the manager that set up the route
// (the other one takes over), then the route's middle node (the surviving manager repairs the route): what
// arrives has the SHA-256 of what was sent, and a new route set up afterwards works. See docs/control-plane.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisSkipReason } from '../helpers/redis-server.js';
import { status, waitFor } from '../node/harness.js';
import { startControlPlane } from '../nodemanager/shared-cluster.js';
import { killMessenger, killRouteManager, killRouteMiddle, socksTransfer, startSocksMesh } from '../nodemanager/socks-failover.js';

const MB = 1024 * 1024;
const SIZE = 100 * MB;

test('SOCKS 100 MB from a node on M1 to a node on M2 intact while M1, the route\'s manager and its middle node are killed -9', { skip: redisSkipReason(), timeout: 120_000 }, async (t) => {
  const cp = await startControlPlane(t, { messengers: 2, managers: 2 });
  // a and b on M1, m and d on M2: the transfer crosses messengers, and manager i is on messenger i.
  const mesh = await startSocksMesh(cp, { a: 0, b: 0, m: 1, d: 1 });
  // The data path crosses no messenger (a transport relayed by M1 would die with it: docs/messenger.md, failover).
  for (const n of [mesh.a, mesh.d]) {
    const kinds = (await status(n.apiFile)).transports.map((x) => (x as { kind?: string }).kind);
    assert.deepEqual(kinds, ['direct', 'direct'], `${n.pk.slice(0, 8)}'s transports`);
  }

  const r = await socksTransfer(t, mesh, SIZE, [killMessenger(0, 10 * MB), killRouteManager(30 * MB), killRouteMiddle(50 * MB)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.bytes, SIZE);
  assert.equal(r.sha, r.expectedSha);
  assert.deepEqual(r.killed.map((k) => k.what), ['messenger 1', 'the node manager that set up the route', "the route's middle node"]);
  for (const k of r.killed) assert.ok(k.bytes < SIZE, `${k.what} was killed mid-transfer (${k.bytes} bytes had arrived)`);
  const [, atManagerKill, atMiddleKill] = r.killed;
  const owner = cp.managers.find((x) => x.pk === atManagerKill!.route.by)!;
  assert.equal(owner.child.signalCode, 'SIGKILL', 'the manager that set up the route is dead');
  assert.equal(atMiddleKill!.route.by, owner.pk, "the route was still the dead manager's when its middle node was killed");
  assert.equal(cp.mesh.messengers[0]!.proc.signalCode, 'SIGKILL');

  // a failed over to M2 by itself: M2 claims its connection in the shared registry.
  const m2 = cp.mesh.messengers[1]!.address.pk.toString('hex');
  await waitFor('a registered with M2', async () => (await cp.db.hget(`sw:msg:e:${mesh.a.pk}`, `m:${m2}`)) !== null);

  // Afterwards, with one messenger and one manager left: a fresh connection needs a new route, set up by the
  // surviving manager through M2 (a is registered there now).
  const again = await socksTransfer(t, mesh, 1 * MB, []);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.sha, again.expectedSha);
  const at = r.killed.map((k) => `${k.what} at ${(k.bytes / MB).toFixed(0)} MB`).join(', ');
  t.diagnostic(`killed ${at} (manager ${owner.pk.slice(0, 8)}, node ${atMiddleKill!.route.rev[1]!.slice(0, 8)}); 100 MB arrived intact`);
});
