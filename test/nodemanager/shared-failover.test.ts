// Two node managers on one real Redis, each its own process, four nodes in a diamond a - {b, m} - d trusting both,
// and a fifth node e linked to the first manager only. The dashboard of either manager shows the whole network
// (e too) and the live route; kill -9 the manager that set up a live route, then the route's middle node: the other
// manager repairs the route from the record in Redis and the open stream keeps going.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisSkipReason } from '../helpers/redis-server.js';
import { dialRetry, echoOf, waitFor, waitTransports } from '../node/harness.js';
import { echoStream, startDiamond, startSharedControlPlane, waitEdges, waitLinked, type SharedControlPlane } from './shared-cluster.js';

const skip = redisSkipReason();

interface Snapshot {
  manager: { pk: string };
  nodes: Array<{ pk: string; online: boolean; transports: Array<{ peer: string }> }>;
  routes: Array<{ routeKey?: string; key: string; from: string; to: string; fwd: string[] }>;
}

async function snapshot(dashboard: string): Promise<Snapshot> {
  const u = new URL(dashboard);
  const res = await fetch(`${u.origin}/api/snapshot?token=${u.searchParams.get('token')}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { snapshot: Snapshot }).snapshot;
}

/** The diamond, e hanging off a (linked to manager 0 only), an echo app on d. */
async function setUp(t: { after(fn: () => Promise<void> | void): void }) {
  const cp: SharedControlPlane = await startSharedControlPlane(t, { managers: 2, web: true });
  const { a, b, m, d } = await startDiamond(cp);
  const e = await cp.node([a.pk], { managers: [cp.managers[0]!] });
  await waitTransports(a, [e.pk]);
  return { cp, a, b, m, d, e };
}

test('the dashboard of any manager shows every node (also those linked to another manager only) and every live route', { skip, timeout: 30_000 }, async (t) => {
  const { cp, a, b, m, d, e } = await setUp(t);
  await echoStream(t, a, d, 'hello');
  const [route] = await cp.routes();
  assert.ok(route, 'the route is recorded in Redis');

  // e reports to manager 0 only; manager 1's dashboard still shows it, its transport to a, and the route.
  await waitLinked(cp, [e.pk], [cp.managers[0]!]);
  await waitEdges(cp, [[a.pk, e.pk]], [cp.managers[0]!]);
  for (const mgr of cp.managers) {
    let snap: Snapshot | undefined;
    await waitFor(`the dashboard of manager ${mgr.pk.slice(0, 8)} shows the whole network`, async () => {
      snap = await snapshot(mgr.dashboard!);
      const nodes = new Map(snap.nodes.map((n) => [n.pk, n]));
      return (
        [a, b, m, d, e].every((n) => nodes.get(n.pk)?.online) &&
        !!nodes.get(e.pk)?.transports.some((x) => x.peer === a.pk) &&
        snap.routes.some((r) => (r.routeKey ?? r.key) === route.key)
      );
    });
    const r = snap!.routes.find((x) => (x.routeKey ?? x.key) === route.key)!;
    assert.deepEqual([r.from, r.to, r.fwd], [a.pk, d.pk, route.fwd]);
  }
});

test('kill -9 the manager that set up a live route, then its middle node: the other manager repairs it and the stream goes on', { skip, timeout: 30_000 }, async (t) => {
  const { cp, a, b, m, d } = await setUp(t);
  const { sock, dialer } = await echoStream(t, a, d, 'before');

  const [route] = await cp.routes();
  assert.ok(route, 'the route is recorded in Redis');
  const owner = cp.managers.find((x) => x.pk === route.by)!;
  const other = cp.managers.find((x) => x.pk !== route.by)!;
  assert.ok(owner && other, 'the record names the manager that set it up');
  await owner.kill('SIGKILL');
  const middle = [b, m].find((n) => n.pk === route.fwd[1])!;
  await middle.kill('SIGKILL');

  // The stream carries on over the other middle node (bytes written now wait for the switch).
  assert.equal(await echoOf(sock, 'after the failover'), 'after the failover');
  const [now] = await cp.routes();
  assert.equal(now?.key, route.key);
  assert.equal(now.by, other.pk, 'repaired by the surviving manager');
  assert.ok(now.repairs >= 1);
  assert.ok(!now.fwd.includes(middle.pk) && !now.rev.includes(middle.pk), 'the new paths avoid the dead node');
  // And new dials work through the surviving manager alone.
  const again = await dialRetry(dialer, d.pk, 7);
  t.after(() => again.destroy());
  assert.equal(await echoOf(again, 'new'), 'new');
});
