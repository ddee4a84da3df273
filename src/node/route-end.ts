// One end of a route, as a Duplex: writes become DATA packets towards the first hop, packets arriving on the
// consume rule become readable bytes. CLOSE is a half-close (the other direction keeps going); ERROR
// destroys the stream with the far end's reason. The end-to-end secure channel runs on top of this Duplex.
//
// Flow control per route: a sender keeps at most WINDOW bytes unconsumed by the far end's reader. The reader's
// end reports how many bytes its reader consumed in KEEPALIVE packets (8-byte payload), so a stream whose
// reader stalls stops its own sender without blocking the other routes that share the transports. Once an end
// has half-closed, its outbound rules are gone and it can send no more counts: the far end then stops counting,
// and that end falls back to pausing its inbound transport while its reader is full.
//
// Repair: the bytes not yet consumed by the far end (at most WINDOW) are kept. When a hop dies, the manager
// installs a new path and tells both ends to switch; each end drops its old inbound rule (late packets from the
// old path can no longer arrive), tells the other how many bytes it received (KEEPALIVE, 16-byte payload), and
// resends from the count it is told. The byte stream, and so the end-to-end cipher on top, stays intact.
import { Duplex } from 'node:stream';
import { MAX_PAYLOAD, PacketType, type Packet, type PacketTypeValue } from './packet.js';
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
/** How long a stream whose next hop died waits for the manager to switch it to a new path. */
export const REPAIR_WAIT_MS = 5000;
/** A write this small, with nothing held, is sent at once; larger ones send whole packets and hold the rest. */
const HOLD_MIN_BYTES = 16 * 1024;

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
  /** Sent bytes the far end has not reported consumed, for resending after a repair: [start offset, pieces]. */
  private unacked: Buffer[] = [];
  private unackedStart = 0;
  /** Set while the outbound path is gone or a switch waits for the far end's received count. */
  private suspended = false;
  private resumeWaiters: Array<() => void> = [];
  private suspendTimer: NodeJS.Timeout | undefined;
  private pendingResume: number | undefined;
  private awaitingResume = false;
  /**
   * Stream bytes written but not yet sent because they fill less than a packet: held until the end of this
   * event-loop turn (setImmediate), so that the writes of one turn leave as full packets. The end-to-end channel
   * writes messages of 65569 bytes, one more than fits a packet: sent as they come, every message would cost a
   * full packet and a tiny one (and, one hop on, transport messages that no longer line up with packets).
   */
  private tail: Buffer[] = [];
  private tailLen = 0;
  private tailScheduled = false;
  /** Rules used for metering: the consume rule (in) and the local forward rule (out). */
  inRule: Rule | undefined;
  outRule: Rule | undefined;
  lastSent = Date.now();
  handshaking = true;
  repairs = 0;

  constructor(
    private readonly host: RouteEndHost,
    readonly info: RouteEndInfo,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
  }

  /** Both directions still open: only then can the stream move to a new path. */
  get repairable(): boolean {
    return !this.localEnded && !this.remoteEnded && !this.destroyed;
  }

  /** A packet that arrived on our consume rule. */
  deliver(p: Packet, from: Transport): void {
    if (this.destroyed) return;
    switch (p.type) {
      case PacketType.DATA:
      case PacketType.HANDSHAKE:
        if (this.remoteEnded) return;
        // Pause the transport when the reader is full after our half-close (no more counts can reach the
        // sender), or when a sender ignores the window, rather than buffer without bound.
        if ((!this.pushPayload(p) && this.localEnded) || this.readableLength > 2 * WINDOW) {
          if (this.pausedTransport) return;
          this.pausedTransport = from;
          from.pauseReading(this);
        }
        return;
      case PacketType.KEEPALIVE:
        if (p.payload.length >= 8) this.onConsumed(Number(p.payload.readBigUInt64BE(0)));
        if (p.payload.length === 16) this.onResume(Number(p.payload.readBigUInt64BE(8)));
        return;
      case PacketType.CLOSE:
        if (!this.remoteEnded) {
          this.remoteEnded = true;
          this.push(null);
          this.dropUnacked();
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

  /** Hands a payload to the reader (a split one piece by piece, without joining); false when the reader is full. */
  private pushPayload(p: Packet): boolean {
    if (!p.parts) {
      this.received += p.payload.length;
      return this.push(p.payload);
    }
    let more = true;
    for (const b of p.parts) {
      this.received += b.length;
      more = this.push(b);
    }
    return more;
  }

  private onConsumed(consumed: number): void {
    if (consumed > this.peerConsumed) this.peerConsumed = Math.min(consumed, this.sent);
    // Forget what the far end has consumed: it will never be asked for again.
    while (this.unacked.length && this.unackedStart + this.unacked[0].length <= this.peerConsumed) {
      this.unackedStart += this.unacked.shift()!.length;
    }
    if (this.sent - this.peerConsumed < WINDOW) this.releaseWindow();
  }

  private dropUnacked(): void {
    this.unacked = [];
    this.unackedStart = this.sent;
  }

  private releaseWindow(): void {
    const w = this.windowWaiter;
    this.windowWaiter = undefined;
    w?.();
  }

  /** Refreshes the rules along the outbound path and repeats our consumed count. */
  keepalive(): void {
    if (this.localEnded || this.suspended) return;
    this.sendCounts(false);
  }

  private sendCounts(resume: boolean): void {
    const consumed = this.received - this.readableLength;
    const b = Buffer.allocUnsafe(resume ? 16 : 8);
    b.writeBigUInt64BE(BigInt(Math.max(0, consumed)));
    if (resume) b.writeBigUInt64BE(BigInt(this.received), 8);
    this.host.transportTo(this.info.outPk)?.send(PacketType.KEEPALIVE, this.info.outRouteId, b);
    this.advertised = consumed;
    this.lastSent = Date.now();
  }

  /** The transport to our first hop is gone: hold writes until the manager switches us, or fail. */
  suspend(reason: string): void {
    if (this.destroyed || this.suspended) return;
    if (!this.repairable) {
      this.destroy(new RouteEndError('broken', reason));
      return;
    }
    this.suspended = true;
    this.suspendTimer = setTimeout(() => this.destroy(new RouteEndError('broken', reason)), REPAIR_WAIT_MS);
    this.suspendTimer.unref();
  }

  /**
   * Moves the route onto a new path whose rules are installed: from now on packets for us arrive with
   * `inRouteId` and ours leave towards `outPk` with `outRouteId`. Writes wait for the far end's received count.
   */
  switchTo(next: { inRouteId: number; outPk: string; outRouteId: number }): void {
    if (!this.repairable) throw new RouteEndError('not_repairable', 'the stream is half-closed or gone');
    this.info.inRouteId = next.inRouteId;
    this.info.outPk = next.outPk;
    this.info.outRouteId = next.outRouteId;
    this.suspended = true;
    clearTimeout(this.suspendTimer);
    this.suspendTimer = setTimeout(
      () => this.destroy(new RouteEndError('broken', 'route repair failed: the far end did not resume')),
      REPAIR_WAIT_MS,
    );
    this.suspendTimer.unref();
    this.repairs++;
    this.awaitingResume = true;
    const t = this.pausedTransport;
    this.pausedTransport = undefined;
    t?.resumeReading(this);
    this.sendCounts(true);
    if (this.pendingResume !== undefined) {
      const r = this.pendingResume;
      this.pendingResume = undefined;
      this.onResume(r);
    }
  }

  /** The far end switched and received `from` bytes of ours: resend the rest, then carry on. */
  private onResume(from: number): void {
    if (!this.awaitingResume) {
      // It switched before we did: resend once our new path is set.
      this.pendingResume = from;
      return;
    }
    this.awaitingResume = false;
    clearTimeout(this.suspendTimer);
    const t = this.host.transportTo(this.info.outPk);
    if (from < this.unackedStart || from > this.sent || !t) {
      this.destroy(new RouteEndError('broken', 'route repair failed: the streams cannot be lined up'));
      return;
    }
    let off = this.unackedStart;
    const resend: Buffer[] = [];
    for (const b of this.unacked) {
      if (off + b.length > from) resend.push(off >= from ? b : b.subarray(from - off));
      off += b.length;
    }
    this.packetize(t, PacketType.DATA, resend);
    this.suspended = false;
    for (const w of this.resumeWaiters.splice(0)) w();
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
    if (!this.localEnded && !this.suspended && this.received - this.readableLength - this.advertised >= WINDOW / 4) {
      this.sendCounts(false);
    }
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

  /** Packs pieces into packets of at most MAX_PAYLOAD bytes; false when the transport is full. */
  private packetize(t: Transport, type: PacketTypeValue, bufs: Buffer[]): { ok: boolean; bytes: number; packets: number } {
    let ok = true;
    let bytes = 0;
    let packets = 0;
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
    return { ok, bytes, packets };
  }

  private sendData(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.suspended) {
      this.resumeWaiters.push(() => this.sendData(bufs, cb));
      return;
    }
    const t = this.host.transportTo(this.info.outPk);
    if (!t) {
      // Wait for a repair (or fail after REPAIR_WAIT_MS).
      this.suspend(`route broken: no transport to next hop ${this.info.outPk.slice(0, 8)}`);
      if (!this.destroyed) this.resumeWaiters.push(() => this.sendData(bufs, cb));
      return;
    }
    let ok = true;
    let len = this.tailLen;
    for (const b of bufs) len += b.length;
    if (this.handshaking || (this.tailLen === 0 && len < HOLD_MIN_BYTES)) {
      // Handshake acts and small writes (interactive traffic) go out at once: holding would only add latency.
      ok = this.sendNow(t, this.handshaking ? PacketType.HANDSHAKE : PacketType.DATA, bufs);
    } else {
      const full = len - (len % MAX_PAYLOAD);
      const pieces = this.tail;
      for (const b of bufs) if (b.length) pieces.push(b);
      this.tail = [];
      this.tailLen = 0;
      if (full > 0) {
        // Send whole packets now; keep the rest (less than a packet) for the end of this turn.
        let off = 0;
        const now: Buffer[] = [];
        for (const b of pieces) {
          if (off + b.length <= full) now.push(b);
          else if (off >= full) this.holdTail(b);
          else {
            now.push(b.subarray(0, full - off));
            this.holdTail(b.subarray(full - off));
          }
          off += b.length;
        }
        ok = this.sendNow(t, PacketType.DATA, now);
      } else {
        for (const b of pieces) this.holdTail(b);
      }
    }
    const afterTransport = () => {
      if (this.sent - this.peerConsumed < WINDOW || this.destroyed || this.remoteEnded) {
        cb();
        return;
      }
      // The far end's reader is behind: wait for its consumed count (a KEEPALIVE), or for the route to end.
      this.windowWaiter = () => cb();
    };
    if (ok || t.isClosed) {
      // (A transport lost mid-write: the bytes are kept in `unacked` and a repair resends them.)
      afterTransport();
      return;
    }
    const done = () => {
      t.off('drain', done);
      t.off('close', done);
      afterTransport();
    };
    t.on('drain', done);
    t.on('close', done);
  }

  private holdTail(b: Buffer): void {
    this.tail.push(b);
    this.tailLen += b.length;
    if (!this.tailScheduled) {
      this.tailScheduled = true;
      setImmediate(this.flushTail);
    }
  }

  /** Sends the held bytes (end of the turn, or before a CLOSE); waits like a write while the path is down. */
  private readonly flushTail = (): void => {
    this.tailScheduled = false;
    if (this.destroyed || !this.tailLen) return;
    if (this.suspended) {
      this.resumeWaiters.push(this.flushTail);
      return;
    }
    const t = this.host.transportTo(this.info.outPk);
    if (!t) {
      this.suspend(`route broken: no transport to next hop ${this.info.outPk.slice(0, 8)}`);
      if (!this.destroyed) this.resumeWaiters.push(this.flushTail);
      return;
    }
    const pieces = this.tail;
    this.tail = [];
    this.tailLen = 0;
    // Backpressure for these bytes was already applied to the write that brought them (they are < 1 packet).
    this.sendNow(t, PacketType.DATA, pieces);
  };

  /** Packetizes and sends `bufs`, keeping them for a resend after a repair; false when the transport is full. */
  private sendNow(t: Transport, type: PacketTypeValue, bufs: Buffer[]): boolean {
    const { ok, bytes, packets } = this.packetize(t, type, bufs);
    this.sent += bytes;
    if (this.remoteEnded) {
      this.dropUnacked();
    } else {
      for (const b of bufs) if (b.length) this.unacked.push(b);
    }
    this.lastSent = Date.now();
    if (this.outRule) {
      this.outRule.bytesOut += bytes;
      this.outRule.packetsOut += packets;
      this.outRule.lastActivity = this.lastSent;
    }
    return ok;
  }

  override _final(cb: (err?: Error | null) => void): void {
    const finish = () => {
      if (this.tailLen) {
        // Held bytes leave before the CLOSE (the path may be down again: then they wait once more).
        this.flushTail();
        if (this.tailLen) {
          this.resumeWaiters.push(finish);
          return;
        }
      }
      if (this.destroyed) return;
      this.localEnded = true;
      this.host.transportTo(this.info.outPk)?.send(PacketType.CLOSE, this.info.outRouteId);
      cb();
    };
    if (this.suspended) this.resumeWaiters.push(finish);
    else finish();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.suspendTimer);
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
    this.resumeWaiters = [];
    this.tail = [];
    this.tailLen = 0;
    cb(err);
  }
}
