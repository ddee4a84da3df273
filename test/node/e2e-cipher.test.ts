// The end-to-end cipher negotiated over a real route (node processes, 1 intermediate node): A offers AES-256-GCM;
// C offers it too, D behaves as a node from before the negotiation (SKYWIRE_E2E_CIPHER=legacy), E forces
// ChaCha20-Poly1305. Every stream arrives intact, and each end reports the cipher it used when the route closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { dialRetry, testCluster, waitFor, waitTransports } from './harness.js';

const env = (cipher: string) => ({ SKYWIRE_E2E_CIPHER: cipher, LOG_LEVEL: 'debug' });

/** The "end-to-end channel closed" debug lines in a node's stderr: the cipher of each direction. */
function closedChannels(stderr: string): Array<{ send: string; receive: string }> {
  return stderr
    .split('\n')
    .filter((l) => l.includes('"end-to-end channel closed"'))
    .map((l) => JSON.parse(l) as { send: string; receive: string });
}

/** Sends `total` random bytes to the sink on port 9 of the node behind `apiFile`; returns [sent, received] hashes. */
async function transfer(client: AppClient, sinkApp: AppClient, pk: string, total: number): Promise<[string, string]> {
  const got = new Promise<string>((resolve, reject) => {
    sinkApp.listen((s: Socket) => {
      const h = createHash('sha256');
      s.on('data', (d: Buffer) => h.update(d));
      s.on('end', () => {
        resolve(h.digest('hex'));
        s.end();
      });
      s.on('error', reject);
    });
  });
  const sock = await dialRetry(client, pk, 9, { minHops: 2, maxHops: 2 });
  const data = randomBytes(total);
  sock.end(data);
  sock.resume();
  return [createHash('sha256').update(data).digest('hex'), await got];
}

test('over a 1-intermediate route: AES-256-GCM when both ends offer it, ChaCha20 with an old end or one forcing it', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node([], [], env('aes-256-gcm'));
  const b = await c.node([a.pk]);
  const targets = {
    'aes-256-gcm': await c.node([b.pk], [], env('aes-256-gcm')),
    legacy: await c.node([b.pk], [], env('legacy')),
    'chacha20-poly1305': await c.node([b.pk], [], env('chacha20-poly1305')),
  };
  await waitTransports(b, [a.pk, ...Object.values(targets).map((n) => n.pk)]);
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'src' });
  apps.push(client);
  const want = { 'aes-256-gcm': 'aes-256-gcm', legacy: 'chacha20-poly1305', 'chacha20-poly1305': 'chacha20-poly1305' };
  for (const [mode, node] of Object.entries(targets)) {
    const sinkApp = await AppClient.connect({ apiFile: node.apiFile, name: 'sink', port: 9 });
    apps.push(sinkApp);
    const [sent, got] = await transfer(client, sinkApp, node.pk, 3 * 1024 * 1024);
    assert.equal(got, sent, `stream to the ${mode} end intact`);
    await waitFor(`the ${mode} end's channel to close`, () => closedChannels(node.stderr()).length === 1);
    const cipher = want[mode as keyof typeof want];
    assert.deepEqual(closedChannels(node.stderr())[0], { ...closedChannels(node.stderr())[0], send: cipher, receive: cipher }, mode);
  }
  await waitFor("A's three channels to close", () => closedChannels(a.stderr()).length === 3);
  const atA = closedChannels(a.stderr()).map((l) => `${l.send}/${l.receive}`).sort();
  assert.deepEqual(atA, ['aes-256-gcm/aes-256-gcm', 'chacha20-poly1305/chacha20-poly1305', 'chacha20-poly1305/chacha20-poly1305']);
});
