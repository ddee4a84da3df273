// Issue 11 acceptance, the node-manager half: two node managers on one Redis, a SOCKS transfer of 100 MB between
// two nodes (curl through socks-client on a, socks-server on d, a 2-hop route), and mid-transfer the manager that
// set up the route is killed -9, then the route's middle node: the other manager repairs the route and what
// arrives has the SHA-256 of what was sent. (The messenger half adds kills of a messenger to the same rig.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisSkipReason } from '../helpers/redis-server.js';
import { startSharedControlPlane } from './shared-cluster.js';
import { killRouteManager, killRouteMiddle, socksTransfer, startSocksMesh } from './socks-failover.js';

const MB = 1024 * 1024;
const SIZE = 100 * MB;

test('SOCKS 100 MB intact while the route\'s node manager and then its middle node are killed -9', { skip: redisSkipReason(), timeout: 150_000 }, async (t) => {
  const cp = await startSharedControlPlane(t, { managers: 2 });
  const mesh = await startSocksMesh(cp);
  const r = await socksTransfer(t, mesh, SIZE, [killRouteManager(20 * MB), killRouteMiddle(35 * MB)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.bytes, SIZE);
  assert.equal(r.sha, r.expectedSha);
  assert.deepEqual(r.killed.map((k) => k.what), ['the node manager that set up the route', "the route's middle node"]);
  const [atManagerKill, atMiddleKill] = r.killed;
  const owner = cp.managers.find((x) => x.pk === atManagerKill!.route.by)!;
  assert.ok(owner.child.signalCode === 'SIGKILL', 'the manager that set up the route is dead');
  assert.equal(atMiddleKill!.route.by, owner.pk, 'the route was still the dead manager\'s when its middle node was killed');
  t.diagnostic(`killed manager ${owner.pk.slice(0, 8)}, then node ${atMiddleKill!.route.rev[1]!.slice(0, 8)}; 100 MB arrived intact`);
});
