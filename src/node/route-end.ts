// One end of a route, as a Duplex: writes become DATA packets towards the first hop, packets arriving on the
// consume rule become readable bytes. CLOSE is a half-close (the other direction keeps going); ERROR
// destroys the stream with the far end's reason. The end-to-end secure channel runs on top of this Duplex.
//
// Flow control per route: a sender keeps at most WINDOW bytes unconsumed by the far end's reader. The reader's
// end reports how many bytes its reader consumed in KEEPALIVE packets (8-byte payload), so a stream whose
// reader stalls stops its own sender without blocking the other routes that share the transports. Once an end
// has half-closed, its outbound rules are gone and it can send no more counts: the far end then stops counting,
// and that end falls back to pausing its inbound transport while its reader is full.
import { Duplex } from 'node:stream';
import { MAX_PAYLOAD, PacketType, type Packet } from './packet.js';
import type { Transport } from './transport.js';
import type { Rule } from './routing-table.js';

export interface RouteEndInfo {
  routeKey: string;
  /** Route id of our consume rule (packets for us arrive with it). */
  inRouteId: number;
  /** First hop of our outbound path and the route id it expects. */
  outPk: string;
  outRouteId: number;
  remotePk: string;
  remotePort: number;
  localPort: number;
  initiator: boolean;
}

export interface RouteEndHost {
  transportTo(pk: string): Transport | undefined;
}

export class RouteEndError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes a sender may have in flight beyond what the far end's reader consumed. */
export const WINDOW = 2 * 1024 * 1024;

export class RouteEnd extends Duplex {
  private pausedTransport: Transport | undefined;
  /** Payload bytes sent, and how many of them the far end reported consumed. */
  private sent = 0;
  private peerConsumed = 0;
  private windowWaiter: (() => void) | undefined;
  /** Payload bytes received, and the consumed count last reported to the far end. */
  private received = 0;
  private advertised = 0;
  private remoteEnded = false;
  private localEnded = false;
  /** Rules used for metering: the consume rule (in) and the local forward rule (out). */
  inRule: Rule | undefined;
  outRule: Rule | undefined;
  lastSent = Date.now();
  handshaking = true;

  constructor(
    private readonly host: RouteEndHost,
    readonly info: RouteEndInfo,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
  }

  /** A packet that arrived on our consume rule. */
  deliver(p: Packet, from: Transport): void {
    if (this.destroyed) return;
    switch (p.type) {
      case PacketType.DATA:
      case PacketType.HANDSHAKE:
        if (this.remoteEnded) return;
        this.received += p.payload.length;
        // Pause the transport when the reader is full after our half-close (no more counts can reach the
        // sender), or when a sender ignores the window, rather than buffer without bound.
        if ((!this.push(p.payload) && this.localEnded) || this.readableLength > 2 * WINDOW) {
          if (this.pausedTransport) return;
          this.pausedTransport = from;
          from.pauseReading(this);
        }
        return;
      case PacketType.KEEPALIVE:
        if (p.payload.length === 8) {
          const consumed = Number(p.payload.readBigUInt64BE(0));
          if (consumed > this.peerConsumed) this.peerConsumed = Math.min(consumed, this.sent);
          if (this.sent - this.peerConsumed < WINDOW) this.releaseWindow();
        }
        return;
      case PacketType.CLOSE:
        if (!this.remoteEnded) {
          this.remoteEnded = true;
          this.push(null);
          this.releaseWindow();
        }
        return;
      case PacketType.ERROR:
        this.destroy(new RouteEndError('remote_error', p.payload.toString('utf8').slice(0, 300) || 'route closed with an error'));
        return;
      default:
        return;
    }
  }

  private releaseWindow(): void {
    const w = this.windowWaiter;
    this.windowWaiter = undefined;
    w?.();
  }

  /** Refreshes the rules along the outbound path and repeats our consumed count. */
  keepalive(): void {
    if (this.localEnded) return;
    this.sendConsumed();
  }

  private sendConsumed(): void {
    const consumed = this.received - this.readableLength;
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(Math.max(0, consumed)));
    this.host.transportTo(this.info.outPk)?.send(PacketType.KEEPALIVE, this.info.outRouteId, b);
    this.advertised = consumed;
    this.lastSent = Date.now();
  }

  get bothEnded(): boolean {
    return this.localEnded && this.remoteEnded;
  }

  /** The far end sent CLOSE: nothing more will arrive, so the inbound rule needs no traffic to stay. */
  get remoteDone(): boolean {
    return this.remoteEnded;
  }

  override _read(): void {
    // Our reader took bytes: open the far end's window again once a quarter of it was consumed.
    if (!this.localEnded && this.received - this.readableLength - this.advertised >= WINDOW / 4) this.sendConsumed();
    const t = this.pausedTransport;
    if (t) {
      this.pausedTransport = undefined;
      t.resumeReading(this);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendData([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.sendData(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private sendData(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    const t = this.host.transportTo(this.info.outPk);
    if (!t) {
      cb(new RouteEndError('broken', `route broken: no transport to next hop ${this.info.outPk.slice(0, 8)}`));
      return;
    }
    const type = this.handshaking ? PacketType.HANDSHAKE : PacketType.DATA;
    let ok = true;
    let bytes = 0;
    let packets = 0;
    // Pack the pieces into packets of at most MAX_PAYLOAD bytes.
    let group: Buffer[] = [];
    let groupLen = 0;
    const flush = () => {
      if (!groupLen) return;
      ok = t.sendv(type, this.info.outRouteId, group, groupLen) && ok;
      bytes += groupLen;
      packets++;
      group = [];
      groupLen = 0;
    };
    for (let b of bufs) {
      while (b.length) {
        const room = MAX_PAYLOAD - groupLen;
        const piece = b.length <= room ? b : b.subarray(0, room);
        group.push(piece);
        groupLen += piece.length;
        b = b.subarray(piece.length);
        if (groupLen === MAX_PAYLOAD) flush();
      }
    }
    flush();
    this.sent += bytes;
    this.lastSent = Date.now();
    if (this.outRule) {
      this.outRule.bytesOut += bytes;
      this.outRule.packetsOut += packets;
      this.outRule.lastActivity = this.lastSent;
    }
    const afterTransport = () => {
      if (this.sent - this.peerConsumed < WINDOW || this.destroyed || this.remoteEnded) {
        cb();
        return;
      }
      // The far end's reader is behind: wait for its consumed count (a KEEPALIVE), or for the route to end.
      this.windowWaiter = () => cb();
    };
    if (ok) {
      afterTransport();
      return;
    }
    const done = () => {
      t.off('drain', done);
      t.off('close', done);
      if (t.isClosed) cb(new RouteEndError('broken', `route broken: transport to ${this.info.outPk.slice(0, 8)} closed`));
      else afterTransport();
    };
    t.on('drain', done);
    t.on('close', done);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localEnded = true;
    this.host.transportTo(this.info.outPk)?.send(PacketType.CLOSE, this.info.outRouteId);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const t = this.host.transportTo(this.info.outPk);
    if (!this.localEnded && t) {
      // Tell the far end why, unless it was the far end that failed.
      const reason = err ? (err instanceof RouteEndError && err.code === 'remote_error' ? null : err.message) : 'stream reset';
      if (reason !== null) t.send(PacketType.ERROR, this.info.outRouteId, Buffer.from(reason.slice(0, 300), 'utf8'));
      else t.send(PacketType.CLOSE, this.info.outRouteId);
    }
    this.localEnded = true;
    const t2 = this.pausedTransport;
    this.pausedTransport = undefined;
    t2?.resumeReading(this);
    this.releaseWindow();
    cb(err);
  }
}
