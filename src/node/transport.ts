// A transport: a secure channel to a neighbour node (direct TCP or relayed by a messenger) carrying packets.
// It measures latency with PING/PONG on route id 0, notices a silent peer within `deadAfterMs`, meters bytes
// and packets both ways, emits 'receipt' for the bandwidth receipts the neighbour signs (docs/metering.md), and
// lets the forwarder pause reading (backpressure) while an outbound queue is full.
import { EventEmitter } from 'node:events';
import { openSync, writeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { forEachGroup } from '../net/batching.js';
import type { ChannelKind } from './channels.js';
import { encodeHeader, encodePacket, PacketDecoder, PacketType, type Packet, type PacketTypeValue, HEADER_BYTES, MAX_PAYLOAD } from './packet.js';

export interface TransportOptions {
  /** PING interval (default 1 s). */
  pingIntervalMs?: number;
  /** A peer silent this long while we are reading is declared dead (default 4 s). */
  deadAfterMs?: number;
}

export interface TransportInfo {
  pk: string;
  kind: ChannelKind;
  initiator: boolean;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  malformed: number;
  upSince: number;
}

// Debug tap (SKYWIRE_PACKET_TAP=FILE): appends every packet payload this node receives on a transport, i.e.
// exactly what a node in the middle of a route can see after the transport is decrypted.
// Written synchronously: it is a debugging aid, and nothing may be lost when the process is killed.
let tapFd: number | undefined;
function tapWriter(): { write(b: Buffer): void } | undefined {
  const file = process.env.SKYWIRE_PACKET_TAP;
  if (!file) return undefined;
  tapFd ??= openSync(file, 'a', 0o600);
  const fd = tapFd;
  return { write: (b: Buffer) => void writeSync(fd, b) };
}

export class Transport extends EventEmitter {
  readonly decoder = new PacketDecoder();
  latencyMs = 0;
  bytesIn = 0;
  bytesOut = 0;
  packetsIn = 0;
  packetsOut = 0;
  readonly upSince = Date.now();
  private lastHeard = Date.now();
  private readonly pausers = new Set<unknown>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private retiring = false;
  private readonly deadMs: number;
  private readonly tap = tapWriter();

  constructor(
    readonly channel: Duplex,
    readonly pk: string,
    readonly kind: ChannelKind,
    readonly initiator: boolean,
    o: TransportOptions = {},
  ) {
    super();
    const pingMs = o.pingIntervalMs ?? 1000;
    const deadMs = o.deadAfterMs ?? 4000;
    this.deadMs = deadMs;
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.on('drain', () => this.emit('drain'));
    channel.on('error', (err: Error) => this.close(err.message));
    channel.on('end', () => this.close('peer closed the transport'));
    channel.on('close', () => this.close('transport closed'));
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      // A tick that comes late means our own event loop was busy (a burst of route setups): the peer's packets
      // may be sitting unread in the socket, since timers run before I/O. Judge silence on the next tick.
      const late = now - lastTick > 2 * pingMs;
      lastTick = now;
      if (!late && this.pausers.size === 0 && now - this.lastHeard > deadMs) {
        this.close(`peer silent for ${deadMs} ms`);
        return;
      }
      const ts = Buffer.allocUnsafe(8);
      ts.writeDoubleBE(performance.now());
      this.send(PacketType.PING, 0, ts);
    }, pingMs);
    this.timer.unref();
    this.send(PacketType.PING, 0, Buffer.alloc(8));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Being replaced by a better transport to the same peer (see retire). */
  get isRetiring(): boolean {
    return this.retiring;
  }

  /**
   * Replaced by another transport to the same peer: sends nothing more, and reads on until the peer
   * half-closes (its last packet here), then closes. The replacement's reader waits for that close, so packets
   * stay in order across the move. `halfClose` also tells the peer our last packet has gone: the side that
   * accepted the replacement says so first; the side that dialed it answers with its own close only after that,
   * so the peer never sees this one end before the replacement reached it. A peer that never half-closes is
   * given up after the silence limit.
   */
  retire(reason: string, halfClose: boolean): void {
    if (this.closed || this.retiring) return;
    this.retiring = true;
    if (halfClose) this.channel.end();
    setTimeout(() => this.close(reason), this.deadMs).unref();
  }

  /** Writes one packet; false means the outbound buffer is full (wait for 'drain'). */
  send(type: PacketTypeValue, routeId: number, payload?: Buffer): boolean {
    if (this.closed || this.retiring) return false;
    const len = payload?.length ?? 0;
    if (len > MAX_PAYLOAD) throw new Error(`packet payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
    this.bytesOut += HEADER_BYTES + len;
    this.packetsOut++;
    if (len < 1024) return this.channel.write(encodePacket(type, routeId, payload));
    // Header and payload as two writes: the secure channel seals them into one message without a copy.
    this.channel.write(encodeHeader(type, routeId, len));
    return this.channel.write(payload);
  }

  /** Writes one packet whose payload is the concatenation of `pieces` (no copy for large pieces). */
  sendv(type: PacketTypeValue, routeId: number, pieces: Buffer[], len: number): boolean {
    if (pieces.length === 1 || len < 1024) return this.send(type, routeId, pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, len));
    if (this.closed || this.retiring) return false;
    if (len > MAX_PAYLOAD) throw new Error(`packet payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
    this.bytesOut += HEADER_BYTES + len;
    this.packetsOut++;
    this.channel.write(encodeHeader(type, routeId, len));
    let ok = true;
    for (const p of pieces) ok = this.channel.write(p);
    return ok;
  }

  /**
   * Sends a byte stream's pieces as packets of at most MAX_PAYLOAD bytes each (pieces are cut, never copied);
   * false when the channel is full.
   */
  sendStream(type: PacketTypeValue, routeId: number, bufs: Buffer[]): { ok: boolean; bytes: number; packets: number } {
    let ok = true;
    let bytes = 0;
    let packets = 0;
    forEachGroup(bufs, MAX_PAYLOAD, (group, len) => {
      ok = this.sendv(type, routeId, group, len) && ok;
      bytes += len;
      packets++;
    });
    return { ok, bytes, packets };
  }

  get writable(): boolean {
    return !this.closed && !this.retiring && !this.channel.writableNeedDrain;
  }

  /** Stops reading until every pauser has resumed (backpressure from a full outbound queue). */
  pauseReading(by: unknown): void {
    this.pausers.add(by);
    this.channel.pause();
  }

  isPausedBy(by: unknown): boolean {
    return this.pausers.has(by);
  }

  resumeReading(by: unknown): void {
    if (!this.pausers.delete(by)) return;
    if (this.pausers.size === 0 && !this.closed) {
      this.lastHeard = Date.now();
      this.channel.resume();
    }
  }

  info(): TransportInfo {
    return {
      pk: this.pk,
      kind: this.kind,
      initiator: this.initiator,
      latencyMs: Math.round(this.latencyMs * 1000) / 1000,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      malformed: this.decoder.stats.malformed,
      upSince: this.upSince,
    };
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.decoder.end();
    this.channel.destroy();
    this.emit('close', reason);
  }

  private onData(chunk: Buffer): void {
    this.lastHeard = Date.now();
    this.bytesIn += chunk.length;
    for (const p of this.decoder.push(chunk)) {
      this.packetsIn++;
      if (p.routeId === 0) this.onTransportPacket(p);
      else {
        this.tap?.write(p.payload);
        this.emit('packet', p);
      }
      if (this.closed) return;
    }
  }

  private onTransportPacket(p: Packet): void {
    if (p.type === PacketType.PING) this.send(PacketType.PONG, 0, p.payload);
    else if (p.type === PacketType.RECEIPT) this.emit('receipt', p.payload);
    else if (p.type === PacketType.PUNCH) this.emit('punch', p.payload);
    else if (p.type === PacketType.PONG && p.payload.length === 8) {
      const sent = p.payload.readDoubleBE(0);
      if (sent > 0) {
        const rtt = performance.now() - sent;
        // Smoothed, so one slow sample does not flip route choices.
        this.latencyMs = this.latencyMs === 0 ? rtt : this.latencyMs * 0.8 + rtt * 0.2;
      }
    }
  }
}

export const PACKET_OVERHEAD = HEADER_BYTES;
