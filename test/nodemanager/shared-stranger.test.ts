// What a stranger (any key can open a control link to a manager) can do to the state managers share in Redis:
// it cannot close a live route it is not an end of (the record stays, the stream goes on), and claiming links to real
// nodes puts no edge on any manager's view of the network (an edge needs both ends' reports, in Redis too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisSkipReason } from '../helpers/redis-server.js';
import { echoOf, waitFor } from '../node/harness.js';
import { connectAttacker } from './attacker.js';
import { echoStream, startChain, startSharedControlPlane, waitLinked } from './shared-cluster.js';

test('a stranger cannot close another\'s route in Redis, nor add links to the shared view', { skip: redisSkipReason(), timeout: 30_000 }, async (t) => {
  const cp = await startSharedControlPlane(t, { managers: 2, web: true, managerEnv: { LOG_LEVEL: 'info' } });
  const { a, d } = await startChain(cp);
  const { sock } = await echoStream(t, a, d);
  const [route] = await cp.routes();
  assert.ok(route);

  // A stranger on each manager (the one holding the route, and the one that knows it only from Redis).
  const evil = await Promise.all(cp.managers.map((m) => connectAttacker(m.info.listen!, m.pk)));
  t.after(() => evil.forEach((e) => e.close()));
  for (const e of evil) {
    await e.sendAndSync({ t: 'hello', transports: [{ pk: a.pk, latencyMs: 0 }, { pk: d.pk, latencyMs: 0 }] });
    await e.sendAndSync({ t: 'closed', routeKey: route.key });
  }
  // Each manager says when it has looked at the claim (the one without the route reads Redis first).
  for (const m of cp.managers) await waitFor('the stranger\'s "closed" handled', () => m.stderr().includes('"closed\\" from a node that is not an end'));
  assert.deepEqual((await cp.routes()).map((r) => r.key), [route.key], 'the record stays');
  assert.equal(await echoOf(sock, 'still here'), 'still here');
  // Its report is in Redis under its own key, but no manager's view has an edge to it.
  await waitLinked(cp, evil.map((e) => e.pk).slice(0, 1), cp.managers.slice(0, 1));
  for (const m of cp.managers) {
    const u = new URL(m.dashboard!);
    const snap = ((await (await fetch(`${u.origin}/api/snapshot?token=${u.searchParams.get('token')}`)).json()) as {
      snapshot: { nodes: Array<{ pk: string; transports: Array<{ peer: string }> }> };
    }).snapshot;
    for (const e of evil) {
      const seen = snap.nodes.find((n) => n.pk === e.pk);
      assert.deepEqual(seen?.transports ?? [], [], 'no links for the stranger');
    }
    assert.ok(!snap.nodes.find((n) => n.pk === a.pk)?.transports.some((x) => evil.some((e) => e.pk === x.peer)), 'none to it either');
  }
  // Keys that connect and leave leave nothing in Redis (any key can connect: it must not grow the shared state).
  for (const e of evil) e.close();
  await waitFor('the strangers gone from Redis', async () => {
    const left = await Promise.all(evil.map(async (e) => (await cp.db.sismember('sw:nm:nodes', e.pk)) + (await cp.db.exists(`sw:nm:node:${e.pk}`))));
    return left.every((n) => n === 0);
  });
});
