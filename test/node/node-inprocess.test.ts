// Node objects built in this process: a messenger, a node manager and four nodes (a diamond a - {m1, m2} - b),
// each a real object on loopback sockets, no child process. A route is set up, carries an echo session, and is
// repaired when its middle node closes; the node's status reflects it. (test/node/routes.test.ts does the same
// with processes and SIGKILL.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { dialRetry, echoOf, waitFor } from './harness.js';
import { inProcessMesh } from './inprocess-mesh.js';

test('in-process nodes: a route over a middle node carries an echo session and survives that node closing', async (t) => {
  const { manager, node, app } = await inProcessMesh(t);
  const a = await node();
  const m1 = await node([a]);
  const m2 = await node([a]);
  const b = await node([m1, m2]);
  // Each transport is reported by both its ends before the manager has an edge.
  await waitFor('the diamond in the manager graph', () => manager.graph.edges().length === 4);
  const echo = await app(b, 'echo', 7);
  echo.listen((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  const client = await app(a, 'client');
  const sock = await dialRetry(client, b.pkHex, 7, { minHops: 2 });
  assert.equal(await echoOf(sock, 'before'), 'before');

  const [route] = manager.liveRoutes();
  const middle = [m1, m2].find((m) => m.pkHex === route.fwd[1])!;
  assert.ok(middle, `the route goes through a middle node: ${route.fwd.map((p) => p.slice(0, 8)).join(' -> ')}`);
  const streamAtA = () => a.status().streams as Array<{ route: string; repairs: number }>;
  assert.deepEqual(streamAtA().map((s) => s.route), [route.key]);
  const repaired = once(manager, 'routeRepaired');
  await middle.close();
  await repaired;
  assert.equal(await echoOf(sock, 'after the middle node closed'), 'after the middle node closed');
  assert.deepEqual(streamAtA().map((s) => [s.route, s.repairs]), [[route.key, 1]], 'the same stream, moved once');
  assert.ok(!manager.liveRoutes()[0].fwd.includes(middle.pkHex), 'the new path avoids the closed node');
  sock.end();
  await once(sock, 'close');
  await waitFor('the ends dropped their rules', () => (a.status().rules as unknown[]).length === 0 && (b.status().rules as unknown[]).length === 0);
});
