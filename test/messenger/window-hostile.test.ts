// What a hostile client can do with window sizing (docs/messenger.md, "Window sizing"): grant more credit than the
// messenger allows (per stream, or across its streams), send past the credit it got, flood "waiting for credit"
// hints, or, with a second key, grant credit for data it never reads. Each is refused, and what the messenger
// holds stays bounded; other clients carry on.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { RelayStream } from '../../src/messenger/stream.js';
import { generateKeyPair } from '../../src/net/keys.js';
import type { MessengerAddress } from '../../src/messenger/address.js';
import { OP, T, encodeClose, encodeData, encodeOpen, encodePing, encodeReq, encodeSidU32 } from '../../src/messenger/protocol.js';
import { client, nextEvent, raw } from './helpers.js';
import { MiB, inprocMessenger, transfer } from './window-helpers.js';

type Raw = Awaited<ReturnType<typeof raw>>;

/**
 * Two raw clients of the messenger, x having opened a stream to y and y having accepted it with `grant` bytes of
 * credit; `beforeAccept` runs once both are connected, before the ACCEPT is sent (to watch frames from the start).
 */
async function rawPair(t: TestContext, address: MessengerAddress, grant: number, beforeAccept?: (x: Raw, y: Raw) => void): Promise<{ x: Raw; y: Raw; sid: number }> {
  const x = await raw(t, address);
  const y = await raw(t, address, generateKeyPair());
  const yOpen = y.next(T.OPEN);
  x.ch.write(encodeOpen(1, 64 * 1024, 5, y.key.publicKey));
  const sid = (await yOpen).readUInt32BE(3);
  beforeAccept?.(x, y);
  const accepted = x.next(T.ACCEPT);
  y.ch.write(encodeSidU32(T.ACCEPT, sid, grant));
  await accepted;
  return { x, y, sid };
}


const LIMITS = { maxWindow: 4 * MiB, baseWindow: MiB, connWindow: 2 * MiB, congestedBytes: MiB };

test('credit past the per-stream cap or the connection budget, or DATA past credit, closes that connection only', async (t) => {
  const { server, address } = await inprocMessenger(t, LIMITS);
  const b = await client(t, [address]);
  b.listen(5, (s) => void s.on('error', () => {}).resume());
  const accepted = async (r: Awaited<ReturnType<typeof raw>>, sid: number) => {
    const f = await nextEvent<[Buffer]>(r.events, 'frame', (x) => x[0] === T.ACCEPT && x.readUInt32BE(3) === sid);
    return f[0].readUInt32BE(7);
  };

  // A window over the cap in OPEN.
  const r1 = await raw(t, address);
  r1.ch.write(encodeOpen(1, 4 * MiB + 1, 5, b.key.publicKey));
  assert.equal(await r1.goaway(), 'protocol_error', 'OPEN with a window over maxWindow');

  // A WINDOW that takes a stream's credit over the cap.
  const r2 = await raw(t, address);
  r2.ch.write(encodeOpen(1, 3 * MiB, 5, b.key.publicKey));
  await accepted(r2, 1);
  r2.ch.write(encodeSidU32(T.WINDOW, 1, MiB + 1));
  assert.equal(await r2.goaway(), 'protocol_error', 'WINDOW past maxWindow');

  // Streams each within the cap whose growth together passes the connection's budget: by OPEN ...
  const r3 = await raw(t, address);
  r3.ch.write(encodeOpen(1, 2 * MiB, 5, b.key.publicKey));
  await accepted(r3, 1);
  r3.ch.write(encodeOpen(3, 2 * MiB + 1, 5, b.key.publicKey));
  assert.equal(await r3.goaway(), 'protocol_error', 'OPENs past connWindow');

  // ... and by WINDOW (up to the budget is fine).
  const r4 = await raw(t, address);
  r4.ch.write(Buffer.concat([encodeOpen(1, MiB, 5, b.key.publicKey), encodeOpen(3, MiB, 5, b.key.publicKey)]));
  await Promise.all([accepted(r4, 1), accepted(r4, 3)]);
  r4.ch.write(Buffer.concat([encodeSidU32(T.WINDOW, 1, MiB), encodeSidU32(T.WINDOW, 3, MiB)]));
  r4.ch.write(encodeSidU32(T.WINDOW, 3, 1));
  assert.equal(await r4.goaway(), 'protocol_error', 'WINDOWs past connWindow');

  // DATA past the credit the receiver granted.
  const r5 = await raw(t, address);
  r5.ch.write(encodeOpen(1, MiB, 5, b.key.publicKey));
  const credit = await accepted(r5, 1);
  const big = Buffer.alloc(60000);
  for (let sent = 0; sent <= credit; sent += big.length) r5.ch.write(encodeData(1, big));
  assert.equal(await r5.goaway(), 'protocol_error', 'DATA past credit');

  // b and the messenger carry on.
  const a = await client(t, [address]);
  const r = await transfer(a, b, 6, 2 * MiB);
  assert.equal(r.got, r.sent);
  assert.equal(server.stats().connections, 2);
});

test('"waiting for credit" hints reach the receiver at most once per grant, however many a sender sends', async (t) => {
  const { address } = await inprocMessenger(t, LIMITS);
  let hints = 0;
  const { x, y, sid } = await rawPair(t, address, 1000, (_x, y) =>
    y.events.on('frame', (f: Buffer) => {
      if (f[0] === T.WINDOW && f.readUInt32BE(7) === 0) hints++;
    }),
  );
  // A datagram after the hints: once it reaches y, the messenger has dealt with every hint before it.
  const burst = async () => {
    const dgram = y.next(T.DGRAM);
    x.ch.write(Buffer.concat([...Array.from({ length: 500 }, () => encodeSidU32(T.WINDOW, 1, 0)), encodeReq(1, OP.SEND, Buffer.concat([y.key.publicKey, Buffer.from('x')]))]));
    await dgram;
  };
  await burst();
  assert.equal(hints, 1, 'one hint passed on for 500 sent');
  const xWindow = x.next(T.WINDOW);
  y.ch.write(encodeSidU32(T.WINDOW, sid, 1000));
  await xWindow;
  await burst();
  assert.equal(hints, 2, 'one more after a grant');
});

test('a pair of keys granting credit for data never read cannot make the messenger hold more than its bound', async (t) => {
  const { server, address } = await inprocMessenger(t, LIMITS);
  let credit = 0;
  // y grants the base window plus the whole budget.
  const { x, y, sid } = await rawPair(t, address, 3 * MiB, (x) =>
    x.events.on('frame', (f: Buffer) => {
      if ((f[0] === T.ACCEPT || f[0] === T.WINDOW) && f.readUInt32BE(3) === 1) credit += f.readUInt32BE(7);
    }),
  );
  y.ch.pause(); // y reads nothing from here on, and grants as if it did

  const chunk = Buffer.alloc(64 * 1024 - 8);
  const ATTEMPT = 96 * MiB;
  let sent = 0;
  let maxBuffered = 0;
  const deadline = Date.now() + 20_000;
  while (sent < ATTEMPT) {
    if (credit >= MiB) {
      let n = 0;
      while (n + chunk.length <= MiB) {
        x.ch.write(encodeData(1, chunk));
        n += chunk.length;
      }
      credit -= n;
      sent += n;
      // Once the messenger has taken that data (its PONG comes after), y grants for it: within the cap exactly.
      const pong = x.next(T.PONG);
      x.ch.write(encodePing(T.PING, Buffer.alloc(8)));
      await pong;
      y.ch.write(encodeSidU32(T.WINDOW, sid, n));
      maxBuffered = Math.max(maxBuffered, server.stats().buffered);
      continue;
    }
    // Out of credit: more comes when the messenger reads y's grants, or never, once it stopped reading y.
    if (server.stats().paused > 0 && credit < MiB) break;
    assert.ok(Date.now() < deadline, `no credit and y not paused (sent ${sent})`);
    await Promise.race([x.next(T.WINDOW), new Promise((r) => setTimeout(r, 20))]);
  }
  maxBuffered = Math.max(maxBuffered, server.stats().buffered);
  // y stops being read once more waits for it than its windows explain (congestedBytes beyond them); before that
  // check, x may have sent what it held credit for, and the grants read with it (docs/messenger.md, Limits).
  const windows = LIMITS.baseWindow + LIMITS.connWindow;
  const bound = LIMITS.congestedBytes + 3 * windows;
  assert.ok(sent < ATTEMPT / 2, `the transfer was stopped (${sent} of ${ATTEMPT} bytes sent)`);
  assert.ok(maxBuffered <= bound, `the messenger held at most ${maxBuffered} bytes (bound ${bound})`);

  // Others are served meanwhile, and what was held goes with the pair.
  const a = await client(t, [address]);
  const b = await client(t, [address]);
  const r = await transfer(a, b, 6, 2 * MiB);
  assert.equal(r.got, r.sent);
  x.ch.destroy();
  y.ch.destroy();
  await Promise.all([once(x.ch, 'close'), once(y.ch, 'close')]);
  const gone = Date.now() + 5000;
  while (server.stats().connections > 2 && Date.now() < gone) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([server.stats().connections, server.stats().buffered], [2, 0]);
});

test('credit granted a byte at a time to a sender that does not read is coalesced, not queued frame by frame', async (t) => {
  // One stream, a 1 MiB window, no budget: y may grant its window as a million WINDOW frames of 1 byte. Queued one
  // by one for x, who reads nothing, that is 11 bytes held per byte of credit (176 MB for a 16 MiB window).
  const limits = { maxWindow: MiB, baseWindow: MiB, connWindow: 0, congestedBytes: 64 * 1024 };
  const { server, address } = await inprocMessenger(t, limits);
  const { x, y, sid } = await rawPair(t, address, 0);
  x.ch.pause(); // x reads nothing from here on
  const one = encodeSidU32(T.WINDOW, sid, 1);
  const batch = Buffer.concat(Array.from({ length: 4096 }, () => one));
  for (let i = 0; i < 256; i++) if (!y.ch.write(batch)) await once(y.ch, 'drain');
  // The messenger answers y's PING after every WINDOW before it.
  const pong = y.next(T.PONG);
  y.ch.write(encodePing(T.PING, Buffer.alloc(8)));
  await pong;
  const held = server.stats().buffered;
  const bound = limits.congestedBytes + limits.maxWindow + 64 * 1024;
  assert.ok(held <= bound, `the messenger holds ${held} bytes for x (bound ${bound}; 11.5 MB of frames were granted)`);
});

test('DATA of 1 byte at a time to a receiver that does not read is held as payload, not frame by frame', async (t) => {
  // y grants a 2 MiB window and reads nothing; x fills it with 2 million DATA frames of 1 byte (8 bytes each).
  const W = 2 * MiB;
  const limits = { maxWindow: W, baseWindow: W, connWindow: 0, congestedBytes: 64 * 1024 };
  const { server, address } = await inprocMessenger(t, limits);
  const { x, y, sid } = await rawPair(t, address, W);
  y.ch.pause(); // y reads nothing from here on
  const tiny = encodeData(1, Buffer.from([7]));
  const batch = Buffer.concat(Array.from({ length: 4096 }, () => tiny));
  for (let i = 0; i < W / 4096; i++) if (!x.ch.write(batch)) await once(x.ch, 'drain');
  const pong = x.next(T.PONG);
  x.ch.write(encodePing(T.PING, Buffer.alloc(8)));
  await pong;
  const held = server.stats().buffered;
  // What waits in the channel up to the congestion threshold, then the payload: at most the window.
  const bound = limits.congestedBytes + 2 * W + 64 * 1024;
  assert.ok(held <= bound, `the messenger holds ${held} bytes for y (bound ${bound}; 16 MB of frames were sent)`);
  // Both ends close meanwhile (y first): the stream ends at the messenger, but what it holds for y still goes out.
  y.ch.write(encodeClose(sid));
  const closed = x.next(T.CLOSE);
  const pong2 = x.next(T.PONG);
  x.ch.write(Buffer.concat([encodeClose(1), encodePing(T.PING, Buffer.alloc(8))]));
  await Promise.all([closed, pong2]);
  // And y gets every byte, in order, then the CLOSE, once it reads.
  let got = 0;
  let bad = 0;
  const end = new Promise<void>((resolve) => {
    y.events.on('frame', (f: Buffer) => {
      if (f[0] === T.CLOSE && f.readUInt32BE(3) === sid) resolve();
      if (f[0] !== T.DATA) return;
      for (let i = 7; i < f.length; i++) if (f[i] !== 7) bad++;
      got += f.length - 7;
    });
  });
  y.ch.resume();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`no CLOSE for y after ${got} bytes`)), 15_000)));
  await Promise.race([end, late]).finally(() => clearTimeout(timer));
  assert.deepEqual([got, bad], [W, 0]);
  assert.equal(server.stats().streams, 0, 'the stream is gone once what it held went out');
});

test('a client receiving DATA of 1 byte at a time for a stream it does not read holds about the bytes, not a Buffer per frame', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { address } = await inprocMessenger(t);
  const b = await client(t, [address]);
  let stream: Duplex | undefined;
  const opened = new Promise<void>((resolve) =>
    b.listen(5, (s) => {
      stream = s; // never read
      resolve();
    }),
  );
  const x = await raw(t, address);
  x.ch.write(encodeOpen(1, 64 * 1024, 5, b.key.publicKey));
  await Promise.all([opened, x.next(T.ACCEPT)]);
  gc();
  const before = process.memoryUsage().heapUsed;
  const tiny = encodeData(1, Buffer.from([7]));
  const batch = Buffer.concat(Array.from({ length: 4096 }, () => tiny));
  for (let i = 0; i < MiB / 4096; i++) if (!x.ch.write(batch)) await once(x.ch, 'drain');
  // b holds the window (1 MiB) once every frame arrived: x may send no more, and the messenger relays at once.
  const rs = stream as RelayStream;
  const deadline = Date.now() + 15_000;
  while (rs.readableLength + rs.queuedBytes < MiB) {
    assert.ok(Date.now() < deadline, `only ${rs.readableLength + rs.queuedBytes} bytes arrived`);
    await new Promise((r) => setTimeout(r, 20));
  }
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  assert.ok(grew < 24 * MiB, `the heap grew by ${(grew / MiB).toFixed(0)} MiB for a 1 MiB window of 1-byte frames`);
});
