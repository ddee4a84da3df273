// A lone small write (a ping, a keystroke, a TCP ACK inside the VPN) must cross every layer of a route without
// waiting for a timer or the end of the event-loop turn: the latency a route adds is then only CPU and the
// wake-ups of the processes on the path (docs/node.md, Latency). Asserted by event order, not by time: a
// setImmediate queued just before the write marks the end of the turn; anything on the path that deferred the
// bytes (setImmediate, setTimeout, a held batch) would deliver them after that mark.
//
// The stack is the real one of a route over one transport: e2e SecureChannel -> RouteEnd -> Transport ->
// transport SecureChannel, over an in-memory pair of streams instead of a TCP socket, and the same layers back up
// on the far side; plus the app API's join of an app socket to a stream (stream-join.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { secureAccept, secureConnect } from '../../src/net/secure.js';
import { Transport } from '../../src/node/transport.js';
import { RouteEnd, type RouteEndInfo } from '../../src/node/route-end.js';
import type { Packet } from '../../src/node/packet.js';
import { joinStreams } from '../../src/node/stream-join.js';
import { duplexPair } from './memory-link.js';

const nodeA = generateKeyPair();
const nodeB = generateKeyPair();
const pkA = pkToHex(nodeA.publicKey);
const pkB = pkToHex(nodeB.publicKey);

/** Two route ends A <-> B over one transport whose secure channel runs on an in-memory stream pair. */
async function routeStack(t: { after(fn: () => void): void }) {
  const [x, y] = duplexPair();
  const [chA, chB] = await Promise.all([secureConnect(x, nodeB.publicKey, { localKey: nodeA }), secureAccept(y, { localKey: nodeB })]);
  const quiet = { pingIntervalMs: 3_600_000, deadAfterMs: 3_600_000 };
  const tA = new Transport(chA, pkB, 'direct', true, quiet);
  const tB = new Transport(chB, pkA, 'direct', false, quiet);
  const base = { routeKey: 'k', remotePort: 7, localPort: 9 };
  const infoA: RouteEndInfo = { ...base, inRouteId: 11, outPk: pkB, outRouteId: 22, remotePk: pkB, initiator: true };
  const infoB: RouteEndInfo = { ...base, inRouteId: 22, outPk: pkA, outRouteId: 11, remotePk: pkA, initiator: false };
  const rules = { inRule: undefined, outRule: undefined };
  const endA = new RouteEnd({ transportTo: (pk) => (pk === pkB ? tA : undefined) }, infoA, rules);
  const endB = new RouteEnd({ transportTo: (pk) => (pk === pkA ? tB : undefined) }, infoB, rules);
  tA.on('packet', (p: Packet) => p.routeId === 11 && endA.deliver(p, tA));
  tB.on('packet', (p: Packet) => p.routeId === 22 && endB.deliver(p, tB));
  // The end-to-end channel on the route ends, as route-ends.ts runs it.
  const [e2eA, e2eB] = await Promise.all([secureConnect(endA, nodeB.publicKey, { localKey: nodeA }), secureAccept(endB, { localKey: nodeB })]);
  endA.handshakeDone();
  endB.handshakeDone();
  t.after(() => {
    for (const s of [e2eA, e2eB, endA, endB]) s.destroy();
    tA.close('test over');
    tB.close('test over');
  });
  return { e2eA, e2eB };
}

/**
 * Writes `data` with `write` and resolves with whether `n` bytes reached `reader` before the end of the
 * event-loop turn of the write.
 */
function arrivesWithinTurn(reader: { on(ev: 'data', fn: (d: Buffer) => void): unknown }, write: () => void, n: number): Promise<boolean> {
  return new Promise((resolve) => {
    let got = 0;
    let turnOver = false;
    let settled = false;
    reader.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= n && !settled) {
        settled = true;
        resolve(!turnOver);
      }
    });
    setImmediate(() => (turnOver = true));
    write();
  });
}

test('a lone 16-byte write crosses both route ends, the transport and both secure channels within its turn', async (t) => {
  const { e2eA, e2eB } = await routeStack(t);
  const probe = Buffer.alloc(16, 7);
  // Both ways (the reply of a ping takes the other direction), several times (not only the first write).
  for (let i = 0; i < 3; i++) {
    assert.equal(await arrivesWithinTurn(e2eB, () => e2eA.write(probe), 16), true, `A -> B, probe ${i}: held past the end of the turn`);
    assert.equal(await arrivesWithinTurn(e2eA, () => e2eB.write(probe), 16), true, `B -> A, probe ${i}: held past the end of the turn`);
  }
});

test('bulk bytes are still batched: a 100 kB write leaves its last partial packet for the end of the turn', async (t) => {
  // The control for the test above: the order check does see a deferral when there is one (packet-batcher.ts
  // holds the tail of a bulk write so that packets stay full).
  const { e2eA, e2eB } = await routeStack(t);
  const bulk = Buffer.alloc(100_000, 1);
  assert.equal(await arrivesWithinTurn(e2eB, () => e2eA.write(bulk), bulk.length), false);
});

test("the app API's join writes a lone small chunk from the app's socket to the stream at once", async () => {
  // The app's socket (a Duplex standing in for it: joinStreams uses only stream methods) and the stream.
  const appSide = new PassThrough();
  const streamSide = new PassThrough();
  const writes: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk);
      cb();
    },
  });
  const sock = Duplex.from({ readable: appSide, writable: streamSide }) as unknown as Socket;
  joinStreams(sock, stream);
  const sent = await new Promise<boolean>((resolve) => {
    setImmediate(() => resolve(writes.length > 0));
    appSide.write(Buffer.alloc(16, 3));
  });
  assert.equal(sent, true, 'a 16-byte chunk from the app waited for the end of the turn');
  assert.equal(Buffer.concat(writes).length, 16);
  stream.destroy();
  sock.destroy();
});

