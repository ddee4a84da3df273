// Long-running commands print their start line as one JSON object with --json, so scripts need no text
// parsing: socks-server and socks-client beside a real node of a real messenger + node manager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testCluster } from '../node/harness.js';

test('socks-server and socks-client --json: the ready line is one JSON object', { timeout: 60_000 }, async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const node = await c.node();
  const server = await c.spawn(['socks-server', '--api-file', node.apiFile, '--allow', '192.168.1.0/24', '--json']);
  assert.deepEqual(server.info, { type: 'ready', port: 1080, pk: node.pk, allow: ['192.168.1.0/24'], clients: 'any' });
  const client = await c.spawn(['socks-client', '--api-file', node.apiFile, '--listen', '127.0.0.1:0', '--server', node.pk, '--json']);
  assert.equal(client.info.type, 'ready');
  assert.match(String(client.info.socks), /^127\.0\.0\.1:\d+$/);
  assert.equal(client.info.server, node.pk);
});
