import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, NoPathError } from '../../src/nodemanager/graph.js';

function chain(n: number): Graph {
  const g = new Graph();
  for (let i = 0; i + 1 < n; i++) g.addEdge(`n${i}`, `n${i + 1}`, 1);
  return g;
}

test('fewest hops wins, ties are broken by latency', () => {
  const g = new Graph();
  // Diamond a-b-d / a-c-d, plus a long cheap detour a-x-y-d.
  g.addEdge('a', 'b', 5);
  g.addEdge('b', 'd', 5);
  g.addEdge('a', 'c', 1);
  g.addEdge('c', 'd', 2);
  g.addEdge('a', 'x', 0);
  g.addEdge('x', 'y', 0);
  g.addEdge('y', 'd', 0);
  assert.deepEqual(g.findPath({ from: 'a', to: 'd' }), ['a', 'c', 'd']);
  g.addEdge('c', 'd', 20);
  assert.deepEqual(g.findPath({ from: 'a', to: 'd' }), ['a', 'b', 'd']);
  assert.deepEqual(g.findPath({ from: 'a', to: 'd', minHops: 3 }), ['a', 'x', 'y', 'd']);
  assert.deepEqual(g.findPath({ from: 'a', to: 'd', avoid: new Set(['b']) }), ['a', 'c', 'd']);
});

test('hop limits and unreachable nodes give clear errors', () => {
  const g = chain(5);
  assert.equal(g.findPath({ from: 'n0', to: 'n4' }).length, 5);
  assert.throws(() => g.findPath({ from: 'n0', to: 'n4', maxHops: 3 }), /within 3 hops/);
  assert.throws(
    () => g.findPath({ from: 'n0', to: 'n4', minHops: 6 }),
    (e: unknown) => e instanceof NoPathError && e.code === 'min_hops' && /at least 6 hops/.test(e.message),
  );
  g.addNode('lonely');
  assert.throws(() => g.findPath({ from: 'n0', to: 'lonely' }), /no path/);
  assert.throws(() => g.findPath({ from: 'n0', to: 'ghost' }), /not in the graph/);
});

test('a transport one side stops reporting disappears for both sides', () => {
  const g = new Graph();
  g.addNode('a');
  g.addNode('b');
  g.setTransports('a', [{ pk: 'b', latencyMs: 2 }]);
  g.setTransports('b', [{ pk: 'a', latencyMs: 4 }]);
  assert.equal(g.latency('a', 'b'), 4, 'the larger of the two reports');
  assert.deepEqual(g.setTransports('a', []), ['b']);
  assert.equal(g.hasEdge('b', 'a'), false);
  // Reported again by a: the edge is back, since b never stopped reporting it.
  g.setTransports('a', [{ pk: 'b', latencyMs: 1 }]);
  assert.equal(g.latency('a', 'b'), 4);
  // A node that registers after its peer reported the edge gets it once it reports the edge too.
  g.setTransports('a', [{ pk: 'b', latencyMs: 1 }, { pk: 'c', latencyMs: 1 }]);
  assert.equal(g.hasEdge('a', 'c'), false);
  g.setTransports('c', [{ pk: 'a', latencyMs: 3 }]);
  assert.equal(g.latency('a', 'c'), 3);
  g.removeNode('c');
  assert.equal(g.hasEdge('a', 'c'), false);
  // c reconnects with the same transport: a's standing report completes the edge at once.
  g.setTransports('c', [{ pk: 'a', latencyMs: 3 }]);
  assert.equal(g.hasEdge('a', 'c'), true);
});

test('a key claiming links nobody confirms gets no edge; a liar can only make its own links slower', () => {
  const g = new Graph();
  for (const n of ['a', 'b', 'c']) g.addNode(n);
  g.setTransports('a', [{ pk: 'b', latencyMs: 30 }]);
  g.setTransports('b', [{ pk: 'a', latencyMs: 30 }, { pk: 'c', latencyMs: 30 }]);
  g.setTransports('c', [{ pk: 'b', latencyMs: 30 }]);
  // The attacker claims 0 ms links to a and c; neither has a transport to it.
  g.setTransports('evil', [{ pk: 'a', latencyMs: 0 }, { pk: 'c', latencyMs: 0 }]);
  assert.equal(g.hasEdge('evil', 'a'), false);
  assert.equal(g.hasEdge('c', 'evil'), false);
  assert.deepEqual(g.findPath({ from: 'a', to: 'c' }), ['a', 'b', 'c']);
  // With real transports (a and c report it too), its claim of 0 ms does not beat what a and c measured.
  g.setTransports('a', [{ pk: 'b', latencyMs: 30 }, { pk: 'evil', latencyMs: 50 }]);
  g.setTransports('c', [{ pk: 'b', latencyMs: 30 }, { pk: 'evil', latencyMs: 50 }]);
  assert.equal(g.latency('a', 'evil'), 50);
  assert.deepEqual(g.findPath({ from: 'a', to: 'c' }), ['a', 'b', 'c']);
});
