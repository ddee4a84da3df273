// Two node managers on one real Redis setting up routes at the same time over the same nodes (real processes): nodes
// start their dials at the managers in turn, so both managers reserve and install ids on the same middle nodes at
// once. No route id of a node is ever held by two live routes: every stream echoes its own bytes, every (node, id)
// appears once in the records, and each middle node carries exactly as many rules as the records give it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { redisSkipReason } from '../helpers/redis-server.js';
import { dialRetry, echoApp, roundTrip, status, waitFor } from '../node/harness.js';
import { startDiamond, startSharedControlPlane } from './shared-cluster.js';

const skip = redisSkipReason();
const PER_SIDE = 40;

test('two managers setting up routes at once never hand out the same route id on a node', { skip, timeout: 30_000 }, async (t) => {
  const cp = await startSharedControlPlane(t, { managers: 2 });
  const { a, b, m, d } = await startDiamond(cp);
  const apps: AppClient[] = [await echoApp(a.apiFile), await echoApp(d.apiFile)];
  const fromA = await AppClient.connect({ apiFile: a.apiFile, name: 'dialer-a', port: 9 });
  const fromD = await AppClient.connect({ apiFile: d.apiFile, name: 'dialer-d', port: 9 });
  apps.push(fromA, fromD);
  t.after(() => Promise.all(apps.map((x) => x.close())).then(() => {}));

  // 2 x 40 dials at once, both ways, through both managers; the streams stay open while we look.
  const socks: Socket[] = await Promise.all([
    ...Array.from({ length: PER_SIDE }, () => dialRetry(fromA, d.pk, 7, { minHops: 2 })),
    ...Array.from({ length: PER_SIDE }, () => dialRetry(fromD, a.pk, 7, { minHops: 2 })),
  ]);
  t.after(() => socks.forEach((s) => s.destroy()));

  const routes = await cp.routes();
  assert.equal(routes.length, 2 * PER_SIDE, 'every route is recorded');
  const by = new Set(routes.map((r) => r.by));
  assert.deepEqual([...by].sort(), cp.managers.map((x) => x.pk).sort(), 'both managers set up routes');
  const claims = new Map<string, string>();
  const perMiddle = new Map<string, number>([
    [b.pk, 0],
    [m.pk, 0],
  ]);
  for (const r of routes) {
    for (const [path, ids] of [
      [r.fwd, r.fwdIds],
      [r.rev, r.revIds],
    ] as const) {
      for (let i = 1; i < path.length; i++) {
        const c = `${path[i]}/${ids[i]}`;
        assert.equal(claims.get(c), undefined, `route id ${ids[i]} of node ${path[i]!.slice(0, 8)} held by ${claims.get(c)} and ${r.key}`);
        claims.set(c, r.key);
        if (i < path.length - 1) perMiddle.set(path[i]!, (perMiddle.get(path[i]!) ?? 0) + 1);
      }
    }
  }
  for (const node of [b, m]) {
    const rules = ((await status(node.apiFile)).rules as Array<{ kind: string }>).filter((r) => r.kind === 'intermediary');
    assert.equal(rules.length, perMiddle.get(node.pk), `node ${node.pk.slice(0, 8)} carries one rule per route hop`);
  }
  // Every stream carries its own bytes (two routes sharing an id would cross their streams).
  const echoed = await Promise.all(socks.map((s, i) => roundTrip(s, Buffer.from(`stream ${i} `.repeat(50)))));
  echoed.forEach((got, i) => assert.equal(got.toString(), `stream ${i} `.repeat(50)));
  // Closed streams leave no records and no claims behind (the ends tell every manager).
  await waitFor('the closed routes gone from Redis', async () => (await cp.db.scard('sw:nm:routes')) === 0);
  assert.deepEqual(await cp.db.keys('sw:nm:ids:*'), []);
});
