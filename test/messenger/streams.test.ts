// Relayed streams through a real messenger process: many concurrent streams with checked content, per-stream
// flow control (a slow reader holds back only its stream), refusals, end/reset propagation, and a peer killed
// mid-stream giving an error instead of a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { EventEmitter, once } from 'node:events';
import { generateKeyPair } from '../../src/net/keys.js';
import type { MessengerError } from '../../src/messenger/errors.js';
import { client, killGroup, startMessenger, startPeer, tempDir } from './helpers.js';

const MB = 1024 * 1024;

/** Reads a stream to its end; resolves with the SHA-256 (hex) and length of what came. */
function hashAll(s: Duplex): Promise<{ hash: string; length: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let length = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      length += d.length;
    });
    s.on('end', () => resolve({ hash: h.digest('hex'), length }));
    s.on('error', reject);
  });
}

/** Writes `total` bytes (a random base block, stamped with the stream number) honouring backpressure. */
async function writeAll(s: Duplex, n: number, total: number, base: Buffer): Promise<string> {
  const h = createHash('sha256');
  let sent = 0;
  while (sent < total) {
    const chunk = Buffer.from(base.subarray(0, Math.min(base.length, total - sent)));
    chunk.writeUInt32BE(n, 0);
    chunk.writeUInt32BE(sent, 4);
    h.update(chunk);
    sent += chunk.length;
    if (!s.write(chunk)) await once(s, 'drain');
  }
  s.end();
  return h.digest('hex');
}

test('50 concurrent relayed streams of 10 MB each arrive intact (SHA-256 checked at the far end)', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address]);
  // b hashes what each stream brings and answers with the digest.
  b.listen(7, (s) => {
    hashAll(s).then(
      ({ hash, length }) => s.end(`${hash} ${length}`),
      () => {},
    );
  });
  const base = randomBytes(MB);
  const N = 50;
  const SIZE = 10 * MB;
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const s = await a.open(b.pkHex, 7);
      let answer = '';
      s.on('data', (d: Buffer) => (answer += d.toString()));
      const ended = once(s, 'end');
      const sent = await writeAll(s, i, SIZE, base);
      await ended;
      assert.equal(answer, `${sent} ${SIZE}`, `stream ${i}`);
    }),
  );
});

test('a reader that stops reading holds back only its own stream', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address], { window: 128 * 1024 });
  const b = await client(t, [m.address], { window: 128 * 1024 });
  const streams: Duplex[] = [];
  b.listen(9, (s) => {
    streams.push(s);
    if (streams.length === 1) s.pause(); // the slow reader: never reads
    else hashAll(s).then(({ hash }) => s.end(hash), () => {});
  });
  const slow = await a.open(b.pkHex, 9);
  // Fill the slow stream until backpressure says stop, and count what it took.
  let accepted = 0;
  const block = Buffer.alloc(16 * 1024, 1);
  while (slow.write(block)) accepted += block.length;
  let slowDrained = false; // watched while the fast stream below moves 8 MB: time enough for any wrong drain
  slow.once('drain', () => (slowDrained = true));

  // Meanwhile another stream on the same two connections moves 8 MB freely.
  const fast = await a.open(b.pkHex, 9);
  let answer = '';
  fast.on('data', (d: Buffer) => (answer += d.toString()));
  const ended = once(fast, 'end');
  const sent = await writeAll(fast, 1, 8 * MB, randomBytes(256 * 1024));
  await ended;
  assert.equal(answer, sent);

  // The slow stream is still held: bounded by its window and buffers, nowhere near what the fast one moved.
  assert.ok(accepted < 1 * MB, `slow stream accepted ${accepted} bytes before backpressure`);
  assert.equal(slowDrained, false, 'slow stream must not drain while nobody reads');
  assert.equal(slow.writableNeedDrain, true);
  // And once its reader reads, it resumes.
  const drained = once(slow, 'drain');
  streams[0].resume();
  await drained;
});

test('open reports refused and offline; end and destroy propagate as end and reset', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address]);
  await assert.rejects(a.open(b.pkHex, 1234), (e: MessengerError) => e.code === 'refused' && /nothing listens/.test(e.message));
  await assert.rejects(a.open(generateKeyPair().publicKey, 1), (e: MessengerError) => e.code === 'offline');

  const inbound = new EventEmitter();
  // Checked in the test body: a throw inside the callback would leave `next` unresolved (or fail elsewhere).
  const stop = b.listen(5, (s, from) => inbound.emit('stream', s, from));
  // Half close: a ends, b sees end and can still answer.
  let next = once(inbound, 'stream');
  const s1 = await a.open(b.pkHex, 5);
  const [b1, from1] = (await next) as [Duplex, string];
  assert.equal(from1, a.pkHex);
  const gotEnd = once(b1, 'end');
  b1.resume();
  s1.end();
  await gotEnd;
  let reply = '';
  s1.on('data', (d: Buffer) => (reply += d.toString()));
  const s1End = once(s1, 'end');
  b1.end('bye');
  await s1End;
  assert.equal(reply, 'bye');

  // Destroy on one side is a reset on the other.
  next = once(inbound, 'stream');
  const s2 = await a.open(b.pkHex, 5);
  const [b2] = (await next) as [Duplex];
  const err = once(s2, 'error');
  b2.destroy();
  const [e] = (await err) as [MessengerError];
  assert.equal(e.code, 'reset');

  stop();
  await assert.rejects(a.open(b.pkHex, 5), (e2: MessengerError) => e2.code === 'refused');
});

test('a peer killed mid-stream gives its partner an error, not a hang', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const peer = await startPeer(t, m.text, ['serve', '3']);
  const a = await client(t, [m.address]);
  const s = await a.open(peer.pk, 3);
  const errored = once(s, 'error');
  await once(s, 'data'); // the peer is streaming to us
  killGroup(peer.proc, 'SIGKILL');
  const [e] = (await errored) as [MessengerError];
  assert.equal(e.code, 'peer_gone');
  // And the messenger forgot the stream: the same client can open new ones.
  await assert.rejects(a.open(peer.pk, 3), (e2: MessengerError) => e2.code === 'offline');
});
