// RouteEnd in-process: two ends of one route joined by in-memory transports (memory-link.ts), no node, no
// socket. The window, the resend after a repair, the half-close and errors, deterministic and fast; the
// process tests (routes, data) still run the same code between real nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PacketType, payloadLength, type Packet } from '../../src/node/packet.js';
import { RouteEnd, RouteEndError, type RouteEndInfo } from '../../src/node/route-end.js';
import { WINDOW } from '../../src/node/send-window.js';
import type { Transport } from '../../src/node/transport.js';
import { memoryLink, pkA, pkB, type MemoryLink } from './memory-link.js';

/** The two ends of a route A <-> B over a link that a test may replace (a repair). */
function route(o: { onDeliverB?: (p: Packet) => void } = {}) {
  let link: MemoryLink = memoryLink();
  const ids = { aIn: 100, bIn: 200 };
  const live = (t: Transport) => (t.isClosed ? undefined : t);
  const base = { routeKey: 'k1', remotePort: 7, localPort: 9 };
  const infoA: RouteEndInfo = { ...base, inRouteId: ids.aIn, outPk: pkB, outRouteId: ids.bIn, remotePk: pkB, initiator: true };
  const infoB: RouteEndInfo = { ...base, inRouteId: ids.bIn, outPk: pkA, outRouteId: ids.aIn, remotePk: pkA, initiator: false };
  const rules = { inRule: undefined, outRule: undefined };
  const a = new RouteEnd({ transportTo: (pk) => (pk === pkB ? live(link.atA) : undefined) }, infoA, rules);
  const b = new RouteEnd({ transportTo: (pk) => (pk === pkA ? live(link.atB) : undefined) }, infoB, rules);
  const wire = (l: MemoryLink) => {
    // As a node's forwarder does: packets with an end's current inbound id go to that end.
    l.atA.on('packet', (p: Packet) => p.routeId === ids.aIn && a.deliver(p, l.atA));
    l.atB.on('packet', (p: Packet) => {
      if (p.routeId !== ids.bIn) return;
      b.deliver(p, l.atB);
      o.onDeliverB?.(p);
    });
  };
  wire(link);
  // As the node does: a stream's error reaches its reader through the channel on top, not as a crash.
  a.on('error', () => {});
  b.on('error', () => {});
  a.handshakeDone();
  b.handshakeDone();
  return {
    a,
    b,
    get link() {
      return link;
    },
    /** The hop died and the manager moved both ends to a new path with new inbound ids. */
    repair() {
      link = memoryLink();
      ids.aIn++;
      ids.bIn++;
      wire(link);
      const none = { inRule: undefined, outRule: undefined };
      b.switchTo({ inRouteId: ids.bIn, outPk: pkA, outRouteId: ids.aIn }, none);
      a.switchTo({ inRouteId: ids.aIn, outPk: pkB, outRouteId: ids.bIn }, none);
    },
    close() {
      a.destroy();
      b.destroy();
      link.close();
    },
  };
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Writes `data` in `chunk`-byte writes, each after the previous one's callback, then ends. */
async function writeAll(s: RouteEnd, data: Buffer, chunk: number, progress?: (written: number) => void): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    await new Promise<void>((resolve, reject) => s.write(data.subarray(off, off + chunk), (err) => (err ? reject(err) : resolve())));
    progress?.(Math.min(off + chunk, data.length));
  }
  s.end();
}

function readAll(s: RouteEnd): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

test('a sender keeps at most a window beyond what the far reader consumed; a slow reader gets every byte', async (t) => {
  let received = 0;
  let consumed = 0;
  let maxAhead = 0;
  const r = route({
    onDeliverB: (p) => {
      if (p.type !== PacketType.DATA) return;
      received += payloadLength(p);
      maxAhead = Math.max(maxAhead, received - consumed);
      pace();
    },
  });
  t.after(() => r.close());
  // The reader takes 256 KiB per event-loop turn, far slower than an in-memory sender.
  const got: Buffer[] = [];
  let scheduled = false;
  function pace() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const c = r.b.read(Math.min(r.b.readableLength, 256 * 1024)) as Buffer | null;
      if (c) {
        got.push(c);
        consumed += c.length;
      }
      if (r.b.readableLength) pace();
      else r.b.read(0); // at the end: lets 'end' fire
    });
  }
  const data = randomBytes(4 * WINDOW);
  const ended = once(r.b, 'end');
  r.b.on('readable', pace);
  await writeAll(r.a, data, 64 * 1024);
  await ended;
  assert.equal(sha(Buffer.concat(got)), sha(data));
  // The window was the limit (the reader lagged by about a window), and never more than a window and a write.
  assert.ok(maxAhead >= WINDOW / 2, `the reader lagged by ${maxAhead} bytes at most`);
  assert.ok(maxAhead <= WINDOW + 2 * 64 * 1024, `the sender ran ${maxAhead} bytes ahead of the reader (window ${WINDOW})`);
});

test('after a repair the far end resends what the dead hop lost, and the stream arrives whole and once', async (t) => {
  const r = route();
  t.after(() => r.close());
  const before = randomBytes(3 * 65528 + 123);
  const lost = randomBytes(200_000);
  const after = randomBytes(300_000);
  const gotAtB = readAll(r.b);
  const gotAtA = readAll(r.a);
  await new Promise<void>((resolve) => r.a.write(before, () => resolve()));
  // The hop dies: what A sends now is lost on the way; then the transports go, and both ends wait for the manager.
  r.link.lose();
  await new Promise<void>((resolve) => r.a.write(lost, () => resolve()));
  r.link.cut();
  r.b.write(Buffer.from('answer before the repair'));
  r.repair();
  assert.equal(r.a.repairs, 1);
  r.a.end(after);
  r.b.end(Buffer.from(', and after it'));
  assert.equal(sha(await gotAtB), sha(Buffer.concat([before, lost, after])));
  assert.equal((await gotAtA).toString(), 'answer before the repair, and after it');
});

test('half-close: one end finishes, the other keeps sending until it finishes too; both close', async (t) => {
  const r = route();
  t.after(() => r.close());
  const closed = Promise.all([once(r.a, 'close'), once(r.b, 'close')]);
  const gotAtB = readAll(r.b);
  r.a.end(Buffer.from('question'));
  assert.equal((await gotAtB).toString(), 'question');
  assert.equal(r.a.repairable, false, 'a half-closed stream cannot move to a new path');
  assert.throws(() => r.a.switchTo({ inRouteId: 1, outPk: pkB, outRouteId: 2 }, { inRule: undefined, outRule: undefined }), /half-closed/);
  const answer = randomBytes(3 * WINDOW); // more than a window: counts no longer flow from A, hop backpressure does
  const gotAtA = readAll(r.a);
  r.b.end(answer);
  assert.equal(sha(await gotAtA), sha(answer));
  await closed;
});

test("an end destroyed with an error fails the far end with that reason; a reset says 'stream reset'", async (t) => {
  const r = route();
  t.after(() => r.close());
  const failed = once(r.b, 'error');
  r.a.destroy(new Error('the app went away'));
  const [err] = (await failed) as [RouteEndError];
  assert.ok(err instanceof RouteEndError);
  assert.equal(err.code, 'remote_error');
  assert.equal(err.message, 'the app went away');

  const r2 = route();
  t.after(() => r2.close());
  const failed2 = once(r2.a, 'error');
  r2.b.destroy();
  assert.equal(((await failed2) as [RouteEndError])[0].message, 'stream reset');
});
