// The layers of a route with one intermediate node, all in this process over in-memory streams (no socket, no
// other process): e2e channel -> route end -> transport A-B (secure channel) -> B forwards (id rewritten, split
// payloads as parts, as forwarder.ts does) -> transport B-C -> route end -> e2e channel. Measured in CPU-seconds
// per GB against one secure channel over the same kind of stream: three channels' ciphers alone would make 3x,
// so what is above 3x is the route's own software cost. CPU time, so it moves little with the machine's load.
import { generateKeyPair, pkToHex, type KeyPair } from '../../src/net/keys.js';
import { secureAccept, secureConnect } from '../../src/net/secure.js';
import { Transport } from '../../src/node/transport.js';
import { RouteEnd } from '../../src/node/route-end.js';
import { payloadLength, type Packet } from '../../src/node/packet.js';
import { duplexPair } from '../../test/node/memory-link.js';

const QUIET = { pingIntervalMs: 3_600_000, deadAfterMs: 3_600_000 };
const pk = (k: KeyPair) => pkToHex(k.publicKey);

async function channelPair(k1: KeyPair, k2: KeyPair) {
  const [x, y] = duplexPair();
  return Promise.all([secureConnect(x, k2.publicKey, { localKey: k1 }), secureAccept(y, { localKey: k2 })]);
}

async function transportPair(k1: KeyPair, k2: KeyPair): Promise<[Transport, Transport]> {
  const [c1, c2] = await channelPair(k1, k2);
  return [new Transport(c1, pk(k2), 'direct', true, QUIET), new Transport(c2, pk(k1), 'direct', false, QUIET)];
}

/** B's rule: packets with `inId` from `from` leave on `to` with `outId`, and `from` pauses while `to` is full. */
function forward(from: Transport, inId: number, to: Transport, outId: number): void {
  from.on('packet', (p: Packet) => {
    if (p.routeId !== inId) return;
    const ok = p.parts ? to.sendv(p.type, outId, p.parts, payloadLength(p)) : to.send(p.type, outId, p.payload);
    if (!ok && !from.isPausedBy(to)) {
      from.pauseReading(to);
      to.once('drain', () => from.resumeReading(to));
    }
  });
}

/** CPU-seconds of this process per GB pushed from `w` until `r` has read `bytes`. */
function cpuPerGb(w: NodeJS.WritableStream, r: NodeJS.ReadableStream, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  return new Promise((resolve) => {
    let got = 0;
    const c0 = process.cpuUsage();
    const onData = (d: Buffer) => {
      got += d.length;
      if (got < bytes) return;
      r.off('data', onData);
      const c = process.cpuUsage(c0);
      resolve((c.user + c.system) / 1e6 / (got / 1e9));
    };
    r.on('data', onData);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!w.write(chunk)) {
          w.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** CPU-seconds per GB: one secure channel, and the route's layers; `rounds` alternating, `mb` MB each. */
export async function routeStackCost(rounds: number, mb: number): Promise<{ direct: number[]; route: number[] }> {
  const [kA, kB, kC] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const [ab, ba] = await transportPair(kA, kB);
  const [bc, cb] = await transportPair(kB, kC);
  forward(ba, 11, bc, 12);
  forward(bc, 21, ba, 22);
  const base = { routeKey: 'k', remotePort: 7, localPort: 9 };
  const rules = { inRule: undefined, outRule: undefined };
  const endA = new RouteEnd({ transportTo: (k) => (k === pk(kB) ? ab : undefined) }, { ...base, inRouteId: 22, outPk: pk(kB), outRouteId: 11, remotePk: pk(kC), initiator: true }, rules);
  const endC = new RouteEnd({ transportTo: (k) => (k === pk(kB) ? cb : undefined) }, { ...base, inRouteId: 12, outPk: pk(kB), outRouteId: 21, remotePk: pk(kA), initiator: false }, rules);
  ab.on('packet', (p: Packet) => p.routeId === 22 && endA.deliver(p, ab));
  cb.on('packet', (p: Packet) => p.routeId === 12 && endC.deliver(p, cb));
  const [e2eA, e2eC] = await Promise.all([secureConnect(endA, kC.publicKey, { localKey: kA }), secureAccept(endC, { localKey: kC })]);
  endA.handshakeDone();
  endC.handshakeDone();
  const [dA, dC] = await channelPair(kA, kC);
  const out = { direct: [] as number[], route: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    out.direct.push(await cpuPerGb(dA, dC, mb * 1e6));
    out.route.push(await cpuPerGb(e2eA, e2eC, mb * 1e6));
  }
  for (const s of [e2eA, e2eC, endA, endC, dA, dC]) s.destroy();
  for (const t of [ab, ba, bc, cb]) t.close('bench over');
  return out;
}
