// Long-running commands print their start line as one JSON object with --json, so scripts need no text
// parsing: socks-server and socks-client beside a real node of a real messenger + node manager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, testCluster } from '../node/harness.js';

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

test('chat --json: the start line and the messenger connection are one JSON object each', { timeout: 60_000 }, async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const child = spawn(process.execPath, [CLI, 'chat', '--key', join(c.dir, 'alice.json'), '--messenger', c.messenger, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SIGNAL_CLIENT: 'false' },
  });
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    rl.on('line', (l) => {
      lines.push(l);
      if (lines.length === 2) resolve();
    });
    child.once('exit', (code) => reject(new Error(`chat exited with ${code}: ${err}`)));
  });
  const [ready, online] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(ready.type, 'ready');
  assert.match(String(ready.pk), /^0[23][0-9a-f]{64}$/);
  assert.match(String(ready.web), /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+$/);
  assert.equal(ready.history, join(c.dir, `chat-${String(ready.pk).slice(0, 8)}`));
  assert.deepEqual(online, { type: 'online' });
});
