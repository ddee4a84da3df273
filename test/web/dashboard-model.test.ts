// The dashboard's bookkeeping between two snapshots: rates from counters, offline nodes kept, and the
// route history (set up, broken, repaired around a dead node, closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkTracker, type NetworkSnapshot } from '../../src/nodemanager/dashboard/model.js';

const A = 'aa'.repeat(33);
const B = 'bb'.repeat(33);
const C = 'cc'.repeat(33);
const D = 'dd'.repeat(33);
const route = (key: string, mid: string) => ({ key, from: A, to: D, port: 1, fwd: [A, mid, D], rev: [D, mid, A], createdAt: 0 });

test('rates come from successive counters, gone nodes stay as offline, route breaks and repairs are history', () => {
  const tr = new NetworkTracker();
  const snap = (nodes: string[], routes: ReturnType<typeof route>[], broken: number, bytes: number): NetworkSnapshot => ({
    manager: { pk: 'ff'.repeat(33), routesBroken: broken },
    nodes: nodes.map((pk) => ({ pk, online: true, transports: pk === A ? [{ peer: B, latencyMs: 1, bytesIn: bytes, bytesOut: bytes * 2 }] : [] })),
    routes,
    services: [],
  });
  tr.update(snap([A, B, C, D], [], 0, 0), 1000);
  const s1 = tr.update(snap([A, B, C, D], [route('r1', B)], 0, 4096), 3000);
  assert.deepEqual([s1.nodes[0].transports[0].rateIn, s1.nodes[0].transports[0].rateOut], [2048, 4096]);
  assert.match(tr.history.at(-1)!.text, /set up via aaaaaaaa → bbbbbbbb → dddddddd/);

  const s2 = tr.update(snap([A, C, D], [], 1, 4096), 4000);
  assert.deepEqual(s2.nodes.find((n) => n.pk === B), { pk: B, online: false, transports: [] });
  assert.deepEqual(tr.history.slice(-2).map((e) => e.kind).sort(), ['broken', 'node-down']);

  tr.update(snap([A, C, D], [route('r2', C)], 1, 4096), 5000);
  assert.equal(tr.history.at(-1)!.kind, 'repaired');
  assert.match(tr.history.at(-1)!.text, /repaired via aaaaaaaa → cccccccc → dddddddd/);

  tr.update(snap([A, C, D], [], 1, 4096), 6000);
  assert.equal(tr.history.at(-1)!.kind, 'closed');
  tr.update(snap([A, B, C, D], [], 1, 4096), 7000);
  assert.equal(tr.history.at(-1)!.kind, 'node-up');
});
