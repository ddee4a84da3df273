// One end of a route, as a Duplex: writes become DATA packets towards the first hop, packets arriving on the
// consume rule become readable bytes. CLOSE is a half-close (the other direction keeps going); ERROR
// destroys the stream with the far end's reason. The end-to-end secure channel runs on top of this Duplex.
//
// Flow control per route (send-window.ts) and packet sizes (packet-batcher.ts) have their own files.
//
// Repair: the bytes not yet consumed by the far end (at most WINDOW) are kept. When a hop dies, the manager
// installs a new path and tells both ends to switch; each end drops its old inbound rule (late packets from the
// old path can no longer arrive), tells the other how many bytes it received (KEEPALIVE, 16-byte payload), and
// resends from the count it is told. The byte stream, and so the end-to-end cipher on top, stays intact.
import { Duplex } from 'node:stream';
import type { RouteEndSpec } from '../routing/control-protocol.js';
import { PacketType, payloadLength, type Packet, type PacketTypeValue } from './packet.js';
import type { Transport } from './transport.js';
import type { Rule } from './routing-table.js';
import { SendWindow, WINDOW } from './send-window.js';
import { PacketBatcher } from './packet-batcher.js';
import { Suspension } from './route-suspension.js';
import { noteDataBytes } from '../util/young-gen.js';

/** A route end: its spec from the manager's install, the route's key, and the id its packets arrive with. */
export type RouteEndInfo = RouteEndSpec & { routeKey: string; inRouteId: number };

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

/** The rules a route end is metered on: its consume rule (in) and its local forward rule (out). */
export interface RouteEndRules {
  inRule: Rule | undefined;
  outRule: Rule | undefined;
}

export class RouteEnd extends Duplex {
  private pausedTransport: Transport | undefined;
  /** What we sent and the far end has not consumed: the window, and the bytes kept for a resend. */
  private readonly window = new SendWindow();
  /** Payload bytes received, and the consumed count last reported to the far end. */
  private received = 0;
  private advertised = 0;
  private remoteEnded = false;
  private localEnded = false;
  /** Set while the outbound path is gone or a switch waits for the far end's received count. */
  private readonly suspension = new Suspension();
  private pendingResume: number | undefined;
  private awaitingResume = false;
  /** Bytes written but held until they fill a packet or the turn ends (packet-batcher.ts). */
  private readonly batcher = new PacketBatcher(() => this.flushTail());
  private rules: RouteEndRules;
  private lastSent = Date.now();
  /** Until the end-to-end handshake is done, writes are its acts: HANDSHAKE packets, sent at once. */
  private handshaking = true;
  private repairCount = 0;
  private readonly state: RouteEndInfo;

  constructor(
    private readonly host: RouteEndHost,
    info: RouteEndInfo,
    rules: RouteEndRules,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
    this.state = { ...info };
    this.rules = { ...rules };
  }

  get info(): Readonly<RouteEndInfo> {
    return this.state;
  }

  /** Times this stream moved to a new path. */
  get repairs(): number {
    return this.repairCount;
  }

  /** Route ids of the rules this end uses now (for dropping them when it closes or moves). */
  get ruleIds(): number[] {
    return [this.rules.inRule?.id, this.rules.outRule?.id].filter((id): id is number => id !== undefined);
  }

  /** The end-to-end handshake finished: writes are stream data from now on. */
  handshakeDone(): void {
    this.handshaking = false;
  }

  /**
   * The node's periodic sweep: a keepalive when we sent nothing for `keepaliveMs`, and our own rules kept fresh
   * (those of a half-closed stream must not expire while the other direction still works).
   */
  tick(now: number, keepaliveMs: number): void {
    if (now - this.lastSent >= keepaliveMs) this.keepalive();
    if (this.rules.outRule) this.rules.outRule.lastActivity = now;
    if (this.rules.inRule && this.remoteEnded) this.rules.inRule.lastActivity = now;
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
        noteDataBytes(payloadLength(p));
        // Pause the transport when the reader is full after our half-close (no more counts can reach the
        // sender), or when a sender ignores the window, rather than buffer without bound.
        if ((!this.pushPayload(p) && this.localEnded) || this.readableLength > 2 * WINDOW) {
          if (this.pausedTransport) return;
          this.pausedTransport = from;
          from.pauseReading(this);
        }
        return;
      case PacketType.KEEPALIVE:
        if (p.payload.length >= 8) this.window.ack(Number(p.payload.readBigUInt64BE(0)));
        if (p.payload.length === 16) this.onResume(Number(p.payload.readBigUInt64BE(8)));
        return;
      case PacketType.CLOSE:
        if (!this.remoteEnded) {
          this.remoteEnded = true;
          this.push(null);
          this.window.dropUnacked();
          this.window.release();
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

  /** Refreshes the rules along the outbound path and repeats our consumed count. */
  private keepalive(): void {
    if (this.localEnded || this.suspension.active) return;
    this.sendCounts(false);
  }

  private sendCounts(resume: boolean): void {
    const consumed = this.received - this.readableLength;
    const b = Buffer.allocUnsafe(resume ? 16 : 8);
    b.writeBigUInt64BE(BigInt(Math.max(0, consumed)));
    if (resume) b.writeBigUInt64BE(BigInt(this.received), 8);
    this.host.transportTo(this.state.outPk)?.send(PacketType.KEEPALIVE, this.state.outRouteId, b);
    this.advertised = consumed;
    this.lastSent = Date.now();
  }

  /** The transport to our first hop is gone: hold writes until the manager switches us, or fail. */
  suspend(reason: string): void {
    if (this.destroyed || this.suspension.active) return;
    if (!this.repairable) this.destroy(new RouteEndError('broken', reason));
    else this.suspension.start(() => this.destroy(new RouteEndError('broken', reason)));
  }

  /**
   * Moves the route onto a new path whose rules are installed: from now on packets for us arrive with
   * `inRouteId` and ours leave towards `outPk` with `outRouteId`. Writes wait for the far end's received count.
   */
  switchTo(next: { inRouteId: number; outPk: string; outRouteId: number }, rules: RouteEndRules): void {
    if (!this.repairable) throw new RouteEndError('not_repairable', 'the stream is half-closed or gone');
    this.state.inRouteId = next.inRouteId;
    this.state.outPk = next.outPk;
    this.state.outRouteId = next.outRouteId;
    this.rules = { ...rules };
    this.suspension.start(() => this.destroy(new RouteEndError('broken', 'route repair failed: the far end did not resume')));
    this.repairCount++;
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
    const t = this.host.transportTo(this.state.outPk);
    const resend = this.window.resendFrom(from);
    if (!resend || !t) {
      this.destroy(new RouteEndError('broken', 'route repair failed: the streams cannot be lined up'));
      return;
    }
    t.sendStream(PacketType.DATA, this.state.outRouteId, resend);
    this.suspension.end();
  }

  override _read(): void {
    // Our reader took bytes: open the far end's window again once a quarter of it was consumed.
    if (!this.localEnded && !this.suspension.active && this.received - this.readableLength - this.advertised >= WINDOW / 4) {
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
    this.sendData(chunks.map((c) => c.chunk), cb);
  }

  private sendData(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    const t = this.pathOrWait(() => this.sendData(bufs, cb));
    if (!t) return;
    let ok = true;
    // Handshake acts go out at once; stream data in whole packets (packet-batcher.ts).
    const now = this.batcher.take(bufs, this.handshaking);
    if (now.length) ok = this.sendNow(t, this.handshaking ? PacketType.HANDSHAKE : PacketType.DATA, now);
    const afterTransport = () => {
      if (!this.window.full || this.destroyed || this.remoteEnded) {
        cb();
        return;
      }
      // The far end's reader is behind: wait for its consumed count (a KEEPALIVE), or for the route to end.
      this.window.wait(() => cb());
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

  /** The transport to our first hop; else `retry` runs once the path is back (a repair), or never if the end fails. */
  private pathOrWait(retry: () => void): Transport | undefined {
    if (this.suspension.active) {
      this.suspension.defer(retry);
      return undefined;
    }
    const t = this.host.transportTo(this.state.outPk);
    if (t) return t;
    // Wait for a repair (or fail after REPAIR_WAIT_MS).
    this.suspend(`route broken: no transport to next hop ${this.state.outPk.slice(0, 8)}`);
    if (!this.destroyed) this.suspension.defer(retry);
    return undefined;
  }

  /** Sends the held bytes (end of the turn, or before a CLOSE); waits like a write while the path is down. */
  private readonly flushTail = (): void => {
    if (this.destroyed || !this.batcher.heldBytes) return;
    const t = this.pathOrWait(this.flushTail);
    if (!t) return;
    const pieces = this.batcher.takeHeld();
    // Backpressure for these bytes was already applied to the write that brought them (they are < 1 packet).
    this.sendNow(t, PacketType.DATA, pieces);
  };

  /** Packetizes and sends `bufs`, keeping them for a resend after a repair; false when the transport is full. */
  private sendNow(t: Transport, type: PacketTypeValue, bufs: Buffer[]): boolean {
    const { ok, bytes, packets } = t.sendStream(type, this.state.outRouteId, bufs);
    noteDataBytes(bytes);
    this.window.record(bufs, bytes, !this.remoteEnded);
    this.lastSent = Date.now();
    const out = this.rules.outRule;
    if (out) {
      out.bytesOut += bytes;
      out.packetsOut += packets;
      out.lastActivity = this.lastSent;
    }
    return ok;
  }

  override _final(cb: (err?: Error | null) => void): void {
    const finish = () => {
      if (this.batcher.heldBytes) {
        // Held bytes leave before the CLOSE (the path may be down again: then they wait once more).
        this.flushTail();
        if (this.batcher.heldBytes) {
          this.suspension.defer(finish);
          return;
        }
      }
      if (this.destroyed) return;
      this.localEnded = true;
      this.host.transportTo(this.state.outPk)?.send(PacketType.CLOSE, this.state.outRouteId);
      cb();
    };
    if (this.suspension.active) this.suspension.defer(finish);
    else finish();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.suspension.clear();
    const t = this.host.transportTo(this.state.outPk);
    if (!this.localEnded && t) {
      // Tell the far end why, unless it was the far end that failed.
      const reason = err ? (err instanceof RouteEndError && err.code === 'remote_error' ? null : err.message) : 'stream reset';
      if (reason !== null) t.send(PacketType.ERROR, this.state.outRouteId, Buffer.from(reason.slice(0, 300), 'utf8'));
      else t.send(PacketType.CLOSE, this.state.outRouteId);
    }
    this.localEnded = true;
    const t2 = this.pausedTransport;
    this.pausedTransport = undefined;
    t2?.resumeReading(this);
    this.window.release();
    this.batcher.takeHeld();
    cb(err);
  }
}
