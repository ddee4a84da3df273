// The secure channel over real TCP: authenticated keys on both sides, data integrity at volume, backpressure,
// clean failures (wrong key, timeout, tampering, truncation) and close propagation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { type SecureChannel, HandshakeError, MessageError, secureAccept, secureConnect } from '../../src/net/secure.js';
import { type SecureListener, dialSecure, listenSecure } from '../../src/net/tcp.js';
import { type Cleanup } from './helpers.js';

const A = generateKeyPair();
const B = generateKeyPair();

/** A listener with key A whose channels are handed to the returned queue. */
async function listener(t: Cleanup, extra: { handshakeTimeoutMs?: number; prologue?: string } = {}) {
  const channels: SecureChannel[] = [];
  let wake: (() => void) | undefined;
  const l: SecureListener = await listenSecure({ localKey: A, ...extra }, (ch) => {
    channels.push(ch);
    wake?.();
  });
  t.after(() => l.close());
  return {
    l,
    port: l.address().port,
    async next(): Promise<SecureChannel> {
      while (!channels.length) await new Promise<void>((r) => (wake = r));
      return channels.shift()!;
    },
  };
}

async function dial(t: Cleanup, port: number, o: { pk?: Buffer; prologue?: string; handshakeTimeoutMs?: number } = {}) {
  const ch = await dialSecure('127.0.0.1', port, o.pk ?? A.publicKey, { localKey: B, prologue: o.prologue, handshakeTimeoutMs: o.handshakeTimeoutMs });
  t.after(() => {
    ch.destroy();
  });
  return ch;
}

/** Everything up to EOF, leaving the stream open for writing (for-await would destroy it at the end). */
function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}

test('dial and accept authenticate both keys and carry data both ways', async (t) => {
  const srv = await listener(t);
  const client = await dial(t, srv.port);
  const server = await srv.next();
  assert.equal(pkToHex(client.remotePublicKey), pkToHex(A.publicKey));
  assert.equal(pkToHex(client.localPublicKey), pkToHex(B.publicKey));
  assert.equal(pkToHex(server.remotePublicKey), pkToHex(B.publicKey), 'the responder learned the initiator key');
  assert.equal(pkToHex(server.localPublicKey), pkToHex(A.publicKey));
  server.on('data', (d: Buffer) => server.write(Buffer.from(d.toString().toUpperCase())));
  client.write('ping over bolt8');
  const [echo] = (await once(client, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'PING OVER BOLT8');
  // end() propagates: the server sees EOF, then ends its side, and the client sees EOF too.
  server.on('end', () => server.end());
  const closed = once(client, 'close');
  client.end();
  await once(client, 'end');
  await closed;
});

test('50 MB crosses intact (SHA-256) in odd-sized writes, with the writer respecting backpressure', async (t) => {
  const srv = await listener(t);
  const client = await dial(t, srv.port);
  const server = await srv.next();
  const total = 50 * 1024 * 1024;
  const block = randomBytes(2 * 1024 * 1024);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let receivedBytes = 0;
  server.on('data', (d: Buffer) => {
    received.update(d);
    receivedBytes += d.length;
  });
  const done = once(server, 'end');
  let written = 0;
  let i = 0;
  const sizes = [1, 100, 65535, 65536, 65537, 300_000, 1024 * 1024 + 7, 17];
  while (written < total) {
    const size = Math.min(sizes[i++ % sizes.length], total - written);
    const off = written % (block.length - size);
    const piece = block.subarray(off, off + size);
    sent.update(piece);
    written += size;
    if (!client.write(piece)) await once(client, 'drain');
  }
  client.end();
  await done;
  assert.equal(receivedBytes, total);
  assert.equal(received.digest('hex'), sent.digest('hex'));
});

test('a paused reader bounds what the writer can buffer; resuming delivers everything', async (t) => {
  const srv = await listener(t);
  const client = await dial(t, srv.port);
  const server = await srv.next();
  server.pause();
  const chunk = randomBytes(256 * 1024);
  const target = 256 * 1024 * 1024; // far more than every buffer on the path together (about 4 MB here)
  let written = 0;
  // Write until the channel refuses, then give drain a chance: with the reader paused it must not come back
  // for good (this checks that no event happens, so it needs a time window).
  let stalled = false;
  while (written < target) {
    written += chunk.length;
    if (!client.write(chunk)) {
      const drained = await Promise.race([
        once(client, 'drain').then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
      ]);
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  assert.ok(stalled, 'the writer must block while the reader is paused');
  // Everything accepted sits in: writer's buffer (16 KB hwm + one write), kernel buffers, the reader's buffer.
  assert.ok(written < 16 * 1024 * 1024, `writer accepted ${written} bytes with a paused reader`);
  assert.ok(server.readableLength <= server.readableHighWaterMark + 2 * 65535, `reader buffered ${server.readableLength}`);
  // Resume: all bytes arrive.
  let got = 0;
  server.on('data', (d: Buffer) => (got += d.length));
  const drained = once(client, 'drain');
  server.resume();
  await drained;
  client.end();
  await once(server, 'end');
  assert.equal(got, written);
});

test('dialing with the wrong public key fails with a clear error and no channel', async (t) => {
  let accepted = 0;
  const l = await listenSecure({ localKey: A }, () => accepted++);
  t.after(() => l.close());
  const wrong = generateKeyPair().publicKey;
  await assert.rejects(
    dialSecure('127.0.0.1', l.address().port, wrong, { localKey: B }),
    (err: unknown) =>
      err instanceof HandshakeError &&
      err.code === 'ACT2_READ_FAILED' &&
      err.message.includes(`127.0.0.1:${l.address().port}`) &&
      err.message.includes('right public key'),
  );
  assert.equal(accepted, 0);
});

test('a prologue mismatch fails the handshake', async (t) => {
  const srv = await listener(t, { prologue: 'skywire' });
  await assert.rejects(dial(t, srv.port, { prologue: 'lightning' }), (err: unknown) => err instanceof HandshakeError);
});

test('a peer that never answers makes the dial time out; a silent client is dropped by the listener', async (t) => {
  const silent = createServer((s) => t.after(() => s.destroy()));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => silent.close());
  await assert.rejects(
    dialSecure('127.0.0.1', (silent.address() as AddressInfo).port, A.publicKey, { localKey: B, handshakeTimeoutMs: 300 }),
    (err: unknown) => err instanceof HandshakeError && err.code === 'TIMEOUT' && /within/.test(err.message),
  );

  const srv = await listener(t, { handshakeTimeoutMs: 300 });
  const raw = connect(srv.port, '127.0.0.1');
  t.after(() => raw.destroy());
  raw.resume();
  await once(raw, 'close'); // the listener hung up on us
});

test('connection refused is reported with the address', async () => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  await assert.rejects(dialSecure('127.0.0.1', port, A.publicKey, { localKey: B }), (err: unknown) =>
    (err as Error).message.startsWith(`cannot connect to 127.0.0.1:${port}: `),
  );
});

/** A TCP proxy to `port` that applies `tamper` to the bytes flowing client -> server. */
async function proxy(t: Cleanup, port: number, tamper: (chunk: Buffer, offset: number, up: Socket) => Buffer | null) {
  const sockets: Socket[] = [];
  const p = createServer((down) => {
    const up = connect(port, '127.0.0.1');
    sockets.push(down, up);
    let offset = 0;
    down.on('data', (d: Buffer) => {
      const out = tamper(d, offset, up);
      offset += d.length;
      if (out) up.write(out);
    });
    up.pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
  });
  p.listen(0, '127.0.0.1');
  await once(p, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    p.close();
  });
  return (p.address() as AddressInfo).port;
}

test('a flipped bit in transit kills the channel with an error and releases no tampered plaintext', async (t) => {
  for (const flipAt of [116 + 5, 116 + 18 + 1000, 116 + 34 + 2000 + 3]) {
    // 116 = act1 + act3 bytes; messages of 2000 bytes are 2034 on the wire.
    const srv = await listener(t);
    const port = await proxy(t, srv.port, (chunk, offset) => {
      if (flipAt >= offset && flipAt < offset + chunk.length) {
        const c = Buffer.from(chunk);
        c[flipAt - offset] ^= 0x01;
        return c;
      }
      return chunk;
    });
    const client = await dial(t, port);
    const server = await srv.next();
    const payload = randomBytes(2000 * 5);
    const got: Buffer[] = [];
    server.on('data', (d: Buffer) => got.push(d));
    const failed = once(server, 'error').then(([e]) => e as Error, () => null);
    for (let i = 0; i < 5; i++) {
      client.write(payload.subarray(i * 2000, (i + 1) * 2000));
      await new Promise<void>((r) => setImmediate(r)); // one message per write
    }
    const err = await failed;
    assert.ok(err instanceof MessageError, `error at ${flipAt}: ${err}`);
    const received = Buffer.concat(got);
    assert.ok(received.length < payload.length);
    assert.ok(payload.subarray(0, received.length).equals(received), 'only authentic bytes were released');
    assert.equal(received.length % 2000, 0, 'no partial message was released');
  }
});

test('a connection cut in the middle of a message is an error, not a clean end', async (t) => {
  const srv = await listener(t);
  const port = await proxy(t, srv.port, (chunk, offset, up) => {
    const cut = 116 + 500;
    if (offset + chunk.length <= cut) return chunk;
    up.end(chunk.subarray(0, Math.max(0, cut - offset)));
    return null;
  });
  const client = await dial(t, port);
  const server = await srv.next();
  server.resume();
  client.write(randomBytes(5000));
  const [err] = (await once(server, 'error')) as [MessageError];
  assert.equal(err.code, 'TRUNCATED');
});

test('destroying one side closes the other', async (t) => {
  const srv = await listener(t);
  const client = await dial(t, srv.port);
  const server = await srv.next();
  server.resume();
  const closed = once(server, 'close');
  client.destroy();
  await closed;
  assert.ok(server.destroyed);
  assert.ok(server.transport.destroyed, 'the underlying socket is closed too');
});

test('many small writes are coalesced into few messages', async (t) => {
  const srv = await listener(t);
  const client = await dial(t, srv.port);
  const server = await srv.next();
  const writes = 20_000;
  const done = readAll(server);
  client.cork();
  for (let i = 0; i < writes; i++) client.write(`${i % 10}`.repeat(10));
  client.uncork();
  client.end();
  const data = await done;
  assert.equal(data.length, writes * 10);
  const sock = client.transport as Socket;
  const overhead = sock.bytesWritten - 116 - data.length;
  assert.ok(overhead < (writes * 34) / 20, `wire overhead ${overhead} bytes for ${writes} writes`);
});

test('over a generic half-open Duplex (as a relayed stream is), half-close works both ways', async () => {
  // Two pipes make a bidirectional in-process stream that, like a relayed stream, supports half-close.
  const ab = new PassThrough();
  const ba = new PassThrough();
  const left = Duplex.from({ readable: ba, writable: ab });
  const right = Duplex.from({ readable: ab, writable: ba });
  const [client, server] = await Promise.all([
    secureConnect(left, A.publicKey, { localKey: B }),
    secureAccept(right, { localKey: A }),
  ]);
  assert.equal(pkToHex(server.remotePublicKey), pkToHex(B.publicKey));
  // The client sends a request and half-closes; the server reads to EOF, then answers on its still-open side.
  const request = randomBytes(200_000);
  const served = (async () => {
    const got = await readAll(server);
    server.end(createHash('sha256').update(got).digest());
  })();
  client.end(request);
  const answer = await readAll(client);
  await served;
  assert.equal(answer.toString('hex'), createHash('sha256').update(request).digest('hex'));
});

test('listener close() stops accepting and closes its connections; excess pending handshakes are dropped', async () => {
  const l = await listenSecure({ localKey: A, maxPendingHandshakes: 1 }, () => {});
  const port = l.address().port;
  // One silent connection takes the only handshake slot; the next one is refused at once.
  const first = connect(port, '127.0.0.1');
  first.on('error', () => {});
  first.resume();
  await once(first, 'connect');
  const second = connect(port, '127.0.0.1');
  second.on('error', () => {});
  second.resume();
  await once(second, 'close');
  const firstClosed = once(first, 'close');
  await l.close();
  await firstClosed;
  await assert.rejects(dialSecure('127.0.0.1', port, A.publicKey, { localKey: B }), /cannot connect/);
});
