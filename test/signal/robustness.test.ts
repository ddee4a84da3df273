// Bad peers close only their own connection; requests fail with the documented codes; timeouts hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { SignalServer, SignalClient, SignalError, type ProtocolErrorInfo, type SignalClientInfo } from '../../src/signal/index.js';
import { FrameDecoder, encodeNormal, encodeMessage, encodePing, type Frame } from '../../src/signal/frames.js';
import { MAX_UNSENT_BYTES, MAX_UNSENT_WRITES } from '../../src/signal/connection.js';
import { setLogSink } from '../../src/util/log.js';
import { closed, nextEvent, rawConnect, regFrame } from './helpers.js';

async function serve(t: { after(fn: () => unknown): void }, opts: ConstructorParameters<typeof SignalServer>[0] = {}) {
  const server = new SignalServer({ port: 0, allowUntokened: true, ...opts });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
}

async function goodClient(t: { after(fn: () => unknown): void }, server: SignalServer, port: number, id: number) {
  const c = new SignalClient({ address: `127.0.0.1:${port}`, id, onShutdown: () => {} });
  t.after(() => c.stop());
  const reg = nextEvent<SignalClientInfo>(server, 'register', (i) => i.id === id);
  c.start();
  await reg;
  return c;
}

/** Frames the server sends to a raw socket, as they arrive. */
function frames(s: Socket): AsyncIterable<Frame> & { next(): Promise<Frame> } {
  const d = new FrameDecoder();
  const queue: Frame[] = [];
  let wake: (() => void) | undefined;
  s.on('data', (c: Buffer) => {
    queue.push(...d.push(c));
    wake?.();
  });
  const next = async (): Promise<Frame> => {
    while (!queue.length) await new Promise<void>((r) => (wake = r));
    return queue.shift()!;
  };
  return { next, async *[Symbol.asyncIterator]() { for (;;) yield await next(); } };
}

test('garbage, an oversized frame, an unknown type or a bad body close only that connection', async (t) => {
  const { server, port } = await serve(t);
  await goodClient(t, server, port, 2);
  const bad: Array<[string, Buffer, RegExp]> = [
    ['garbage', Buffer.from('GET / HTTP/1.1\r\n\r\n'), /unknown frame type 0x47/],
    ['oversized', Buffer.from('01000000010000ffff', 'hex'), /65535 bytes exceeds 10240/],
    ['unknown type', Buffer.from([0x42, 0, 0, 0, 0]), /unknown frame type 0x42/],
    ['empty body', encodeNormal(1, Buffer.alloc(0)), /no op byte/],
    ['after a valid REG', Buffer.concat([regFrame('{"Id":30}'), Buffer.from([0x99])]), /0x99/],
  ];
  for (const [what, bytes, reason] of bad) {
    const s = await rawConnect(t, port);
    const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
    s.write(bytes);
    assert.match((await err).reason, reason, what);
    await closed(s);
    assert.ok((await server.ping(2)) >= 0, `the good client still answers after ${what}`);
  }
  assert.deepEqual(server.clients().map((c) => c.id), [2]);
});

test('the server ACKs every NORMAL, echoes PING timestamps exactly, and answers REG with {"Id":N}', async (t) => {
  const { port } = await serve(t);
  const s = await rawConnect(t, port);
  const inbox = frames(s);
  s.write(Buffer.concat([regFrame('{"Id":6}', 1), encodePing(2n ** 64n - 2n), encodeNormal(2, encodeMessage(0x55, null))]));
  assert.deepEqual(await inbox.next(), { type: 'ack', seq: 1 });
  const reply = await inbox.next();
  assert.equal(reply.type, 'normal');
  assert.equal((reply as { body: Buffer }).body.toString('latin1'), '\x80{"Id":6}');
  assert.equal((reply as { seq: number }).seq, 1, 'server numbering starts at 1');
  assert.deepEqual(await inbox.next(), { type: 'pong', ms: 2n ** 64n - 2n });
  assert.deepEqual(await inbox.next(), { type: 'ack', seq: 2 }, 'unknown ops are ACKed and ignored');
});

test('requests fail with not_registered, busy, timeout and closed', async (t) => {
  const { server, port } = await serve(t, { requestTimeoutMs: 300 });
  await assert.rejects(server.ping(99), (e: unknown) => e instanceof SignalError && e.code === 'not_registered' && /id 99/.test(e.message));

  // A client that registers and then never answers.
  const mute = await rawConnect(t, port);
  const reg = nextEvent(server, 'register');
  mute.write(regFrame('{"Id":8}'));
  await reg;
  const first = server.ping(8);
  await assert.rejects(server.ping(8), { code: 'busy' });
  const top = server.top(8); // another op may be outstanding at the same time
  await assert.rejects(first, (e: unknown) => e instanceof SignalError && e.code === 'timeout' && /within 300 ms/.test(e.message));
  await assert.rejects(top, { code: 'timeout' });

  // A client that goes away while a request is outstanding.
  const pending = server.shutdown(8);
  mute.destroy();
  await assert.rejects(pending, { code: 'closed' });
  assert.equal(server.isRegistered(8), false);
});

test('a new REG for a connected id replaces the old connection', async (t) => {
  const { server, port } = await serve(t);
  const a = await rawConnect(t, port);
  const r1 = nextEvent<SignalClientInfo>(server, 'register');
  a.write(regFrame('{"Id":4,"Pid":100}'));
  assert.equal((await r1).pid, 100);
  const b = await rawConnect(t, port);
  const gone = nextEvent<SignalClientInfo>(server, 'unregister');
  const r2 = nextEvent<SignalClientInfo>(server, 'register');
  b.write(regFrame('{"Id":4,"Pid":200}'));
  assert.equal((await gone).pid, 100);
  assert.equal((await r2).pid, 200);
  await closed(a);
  assert.deepEqual(server.clients().map((c) => [c.id, c.pid]), [[4, 200]]);
});

test('a connection that sends nothing for the idle timeout is closed; forget() drops a client', async (t) => {
  const { server, port } = await serve(t, { idleTimeoutMs: 200 });
  const silent = await rawConnect(t, port);
  await closed(silent); // it sent nothing: idleness is the only reason the server can have

  server.expect(12, 'tok');
  const c = await rawConnect(t, port);
  const reg = nextEvent(server, 'register');
  c.write(regFrame('{"Id":12,"Token":"tok"}'));
  await reg;
  server.forget(12);
  await closed(c);
  assert.equal(server.isRegistered(12), false);
});

test('keepalive PINGs hold a quiet connection open past the idle timeout; without them it is dropped', async (t) => {
  const { server, port } = await serve(t, { idleTimeoutMs: 400 });
  const drops: number[] = [];
  server.on('unregister', (i: SignalClientInfo) => drops.push(i.id));
  const pinging = new SignalClient({ address: `127.0.0.1:${port}`, id: 21, pingIntervalMs: 50, onShutdown: () => {} });
  const quiet = new SignalClient({ address: `127.0.0.1:${port}`, id: 22, pingIntervalMs: 60_000, onShutdown: () => {} });
  t.after(() => Promise.all([pinging.stop(), quiet.stop()]));
  const both = Promise.all([21, 22].map((id) => nextEvent<SignalClientInfo>(server, 'register', (i) => i.id === id)));
  pinging.start();
  quiet.start();
  await both;
  // The quiet one is dropped after each idle period (it reconnects each time); the pinging one (8 PINGs per
  // period) must still be there after the quiet one was dropped three times.
  await nextEvent<SignalClientInfo>(server, 'unregister', (i) => i.id === 22 && drops.filter((d) => d === 22).length >= 3, 30_000);
  assert.ok(!drops.includes(21), `dropped: ${drops.join(',')}`);
  assert.ok(server.isRegistered(21));
});

test('close() fails outstanding requests with closed and frees the port', async (t) => {
  const { server, port } = await serve(t);
  const mute = await rawConnect(t, port);
  const reg = nextEvent(server, 'register');
  mute.write(regFrame('{"Id":3}'));
  await reg;
  const pending = server.ping(3);
  await server.close();
  await assert.rejects(pending, { code: 'closed' });
  await assert.rejects(server.ping(3), { code: 'closed', message: 'the signal server is closed' });
  const again = new SignalServer({ port });
  t.after(() => again.close());
  assert.equal((await again.listen()).port, port);
});

test('a peer that floods PINGs and never reads is dropped, with what is queued for it bounded in bytes and writes', async (t) => {
  const { server, port } = await serve(t);
  await goodClient(t, server, port, 2);
  const s = await rawConnect(t, port);
  s.pause(); // never reads what the server answers
  const dropped = nextEvent<ProtocolErrorInfo>(server, 'protocolError', () => true, 60_000);
  const gone = closed(s, 60_000);
  let isGone = false;
  void gone.then(() => (isGone = true));
  s.pause(); // closed() resumes to see the end; this peer must keep not reading
  const burst = Buffer.concat(Array.from({ length: 100_000 }, () => encodePing(1))); // 900 kB of PINGs
  for (let i = 0; i < 200 && !isGone && !s.destroyed; i++) {
    await new Promise<void>((resolve) => {
      if (s.write(burst)) return resolve();
      s.once('drain', resolve);
      s.once('close', resolve); // the server dropped us: no drain will come
    });
    await new Promise((r) => setImmediate(r));
  }
  assert.match((await dropped).reason, /peer is not reading/);
  await gone;
  // Issue 17: every 9-byte PONG was its own write, so 1 MiB of PONGs held ~20 MB. Now both are capped.
  assert.ok(server.peakQueued.writes <= MAX_UNSENT_WRITES + 1, `${server.peakQueued.writes} writes queued at once`);
  assert.ok(server.peakQueued.bytes <= MAX_UNSENT_BYTES + 128 * 1024, `${server.peakQueued.bytes} bytes queued at once`);
  assert.ok((await server.ping(2)) >= 0, 'other clients are served as before');
});

test('refused connections are logged once per interval with a count, not once each', async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  t.after(() => setLogSink((l) => process.stderr.write(l + '\n')));
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'warn';
  t.after(() => (process.env.LOG_LEVEL = level));
  const { server, port } = await serve(t, { allowUntokened: false, logIntervalMs: 600_000 });
  server.expect(4, 'secret');
  const refused = 200;
  let seen = 0;
  const all = new Promise<void>((resolve) => server.on('protocolError', () => ++seen === refused && resolve()));
  await Promise.all(
    Array.from({ length: refused }, async () => {
      const s = await rawConnect(t, port);
      s.write(regFrame('{"Id":4,"Token":"guess"}'));
      await closed(s);
    }),
  );
  await all;
  const warned = () => lines.filter((l) => l.includes('protocol error'));
  assert.equal(warned().length, 1, `one line within the interval, not one per refusal (${warned().length} for ${refused})`);
  // The count of the others comes at the end of the interval, or when the server closes, as here.
  await server.close();
  assert.equal(warned().length, 2);
  const rec = JSON.parse(warned()[1]) as { suppressed: number; reason: string };
  assert.equal(rec.suppressed, refused - 1);
  assert.match(rec.reason, /wrong token/);
});
