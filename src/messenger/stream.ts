// A relayed stream as the application sees it: a Node Duplex with backpressure. Writes go out only within the
// credit the far end granted; received bytes are held (at most one window) until the application reads them,
// and credit is given back as it does, so a slow reader slows only its own stream.
import { Duplex } from 'node:stream';
import { MessengerError } from './errors.js';
import { MAX_DATA_PAYLOAD } from './protocol.js';
import type { WindowTuner } from './window-tuner.js';

/** Queued payloads smaller than this (or that keep a much larger buffer alive) are copied together. */
const COPY_BELOW = 4096;
const TAIL_BYTES = 16 * 1024;

/** What a stream needs from the connection it lives on. */
export interface StreamLink {
  sendData(sid: number, payload: Buffer): void;
  sendWindow(sid: number, inc: number): void;
  sendClose(sid: number): void;
  sendReset(sid: number, code: 'reset'): void;
  forget(sid: number): void;
}

export class RelayStream extends Duplex {
  /** Bytes we may still send (granted by the far end). */
  private credit = 0;
  /** Bytes the far end may still send us before we grant more. */
  private recvAllowed: number;
  private unacked = 0;
  private readonly queue: Buffer[] = [];
  /** Bytes in `queue`. */
  private queued = 0;
  /** Where small payloads are copied: the last queue entry is buf[start, used) while `open`. */
  private tail?: { buf: Buffer; start: number; used: number; open: boolean };
  /** We told the far end we wait for credit, and got none since (window sizing: one hint per grant). */
  private hinted = false;
  private wantRead = false;
  private remoteEnded = false;
  private localEnded = false;
  private resetByPeer = false;
  private pending?: { chunk: Buffer; off: number; cb: (err?: Error | null) => void };
  /** False while open() hands this stream to its caller, who has no 'error' listener yet (see handOver). */
  private handedOver = true;
  private held?: () => void;

  constructor(
    private readonly link: StreamLink,
    readonly sid: number,
    /** Public key (hex) of the far end. */
    readonly remotePk: string,
    readonly port: number,
    /** Sizes our receive window (fixed when not tuned). */
    private readonly tune: WindowTuner,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.recvAllowed = tune.window;
  }

  /** Bytes received and not yet handed to the Duplex's readable buffer (at most the window). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Our receive window now (it grows under a sustained transfer when tuned; docs/messenger.md). */
  get receiveWindow(): number {
    return this.tune.window;
  }

  /** Credit from the far end: its initial window (OPEN or ACCEPT) or a WINDOW. */
  grantSend(n: number): void {
    this.credit += n;
    if (n > 0) this.hinted = false;
    this.pump();
  }

  /** The far end waits for credit (WINDOW 0): the window may grow. */
  onBlocked(): void {
    if (this.destroyed || this.remoteEnded) return;
    const inc = this.tune.senderBlocked(this.queued);
    if (inc === 0) return;
    this.recvAllowed += inc;
    this.link.sendWindow(this.sid, inc);
  }

  onData(payload: Buffer): void {
    if (this.destroyed) return;
    if (payload.length > this.recvAllowed || this.remoteEnded) {
      this.link.sendReset(this.sid, 'reset');
      this.fail(new MessengerError('protocol_error', `stream ${this.sid}: peer sent beyond its window`));
      return;
    }
    this.recvAllowed -= payload.length;
    if (this.wantRead && this.queue.length === 0) this.deliver(payload);
    else this.enqueue(payload);
  }

  /**
   * Queues a payload the application has not asked for yet. A Buffer per DATA frame costs about 130 bytes of heap,
   * and a small one may keep its whole secure-channel message alive: a sender filling a 1 MiB window with 1-byte
   * frames made a client hold 144 MB. Small payloads are copied together instead, so what waits is about its bytes.
   */
  private enqueue(p: Buffer): void {
    this.queued += p.length;
    if (p.length >= COPY_BELOW && p.buffer.byteLength <= 2 * p.length) {
      this.queue.push(p);
      if (this.tail) this.tail.open = false;
      return;
    }
    if (p.length >= COPY_BELOW) {
      this.queue.push(Buffer.from(p));
      if (this.tail) this.tail.open = false;
      return;
    }
    let t = this.tail;
    if (!t || t.used + p.length > t.buf.length) {
      t = this.tail = { buf: Buffer.allocUnsafe(TAIL_BYTES), start: 0, used: 0, open: false };
    }
    if (!t.open) {
      t.start = t.used;
      t.open = true;
      this.queue.push(t.buf.subarray(t.start, t.start));
    }
    p.copy(t.buf, t.used);
    t.used += p.length;
    this.queue[this.queue.length - 1] = t.buf.subarray(t.start, t.used);
  }

  onRemoteClose(): void {
    this.remoteEnded = true;
    if (this.wantRead && this.queue.length === 0) this.push(null);
  }

  onReset(err: MessengerError): void {
    this.resetByPeer = true;
    this.fail(err);
  }

  /** The connection under the stream is gone. */
  onLinkDown(err: MessengerError | undefined): void {
    this.resetByPeer = true;
    this.fail(err);
  }

  /**
   * open() is resolving with this stream. Its caller gets it in a promise continuation, but a RESET in the same
   * read as the ACCEPT would destroy it now and emit 'error' on process.nextTick, before that continuation: no
   * listener yet, an uncaught error. So teardown waits until the microtasks have run (setImmediate), by when a
   * caller that attaches its listeners as it gets the stream (as every caller must) has them.
   */
  handOver(): void {
    this.handedOver = false;
    setImmediate(() => {
      this.handedOver = true;
      const h = this.held;
      this.held = undefined;
      h?.();
    });
  }

  private fail(err: Error | undefined): void {
    if (!this.handedOver) {
      this.held ??= () => this.fail(err);
      return;
    }
    if (!this.destroyed) this.destroy(err);
  }

  // Readable side --------------------------------------------------------------------------------------------

  private deliver(b: Buffer): void {
    this.unacked += b.length;
    this.tune.took(b.length);
    if (!this.push(b)) this.wantRead = false;
    // Credit goes back in quarters of the window: few WINDOW frames, and never a stall (see docs/messenger.md).
    if (this.unacked >= this.tune.window / 4) {
      this.recvAllowed += this.unacked;
      this.link.sendWindow(this.sid, this.unacked);
      this.unacked = 0;
    }
  }

  override _read(): void {
    this.wantRead = true;
    while (this.wantRead && this.queue.length > 0) {
      const b = this.queue.shift()!;
      this.queued -= b.length;
      // The tail's entry went to the application: what comes next starts a new entry.
      if (this.queue.length === 0 && this.tail) this.tail.open = false;
      this.deliver(b);
    }
    if (this.queue.length === 0 && this.remoteEnded && this.wantRead) this.push(null);
  }

  // Writable side --------------------------------------------------------------------------------------------

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending = { chunk, off: 0, cb };
    this.pump();
  }

  private pump(): void {
    const p = this.pending;
    if (!p || this.destroyed) return;
    while (this.credit > 0 && p.off < p.chunk.length) {
      const n = Math.min(this.credit, MAX_DATA_PAYLOAD, p.chunk.length - p.off);
      this.link.sendData(this.sid, p.chunk.subarray(p.off, p.off + n));
      p.off += n;
      this.credit -= n;
    }
    if (p.off >= p.chunk.length) {
      this.pending = undefined;
      p.cb();
    } else if (!this.hinted && this.tune.tuned) {
      // Out of credit with data to send: tell the receiver, whose window may be what limits us (0 = a hint).
      this.hinted = true;
      this.link.sendWindow(this.sid, 0);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localEnded = true;
    this.link.sendClose(this.sid);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const clean = this.localEnded && this.remoteEnded && this.queue.length === 0;
    if (!clean && !this.resetByPeer) this.link.sendReset(this.sid, 'reset');
    this.link.forget(this.sid);
    this.tune.release();
    const p = this.pending;
    this.pending = undefined;
    // Node then fails the caller's write with ERR_STREAM_DESTROYED.
    if (p) p.cb();
    cb(err);
  }
}

