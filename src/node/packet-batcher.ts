// How a route end cuts the bytes written to it into packets, by the batching policy of src/net/batching.ts:
// of the bytes written in one event-loop turn, whole packets go at once and the remainder (less than a packet)
// is held until the next write or the end of the turn; a small write with nothing held goes at once.
import { MAX_PAYLOAD } from './packet.js';
import { sendsAtOnce } from '../net/batching.js';

export class PacketBatcher {
  private held: Buffer[] = [];
  private heldLen = 0;
  private scheduled = false;

  /** `flush` is called at the end of a turn in which bytes were held; it takes them with `takeHeld`. */
  constructor(private readonly flush: () => void) {}

  get heldBytes(): number {
    return this.heldLen;
  }

  /** The part of a write of `bufs` to send now (all of it when `atOnce`); the rest is held. */
  take(bufs: Buffer[], atOnce: boolean): Buffer[] {
    let len = this.heldLen;
    for (const b of bufs) len += b.length;
    if (atOnce || sendsAtOnce(len - this.heldLen, this.heldLen)) return bufs;
    const full = len - (len % MAX_PAYLOAD);
    const pieces = this.takeHeld();
    for (const b of bufs) if (b.length) pieces.push(b);
    const now: Buffer[] = [];
    let off = 0;
    for (const b of pieces) {
      if (off + b.length <= full) now.push(b);
      else if (off >= full) this.hold(b);
      else {
        now.push(b.subarray(0, full - off));
        this.hold(b.subarray(full - off));
      }
      off += b.length;
    }
    return now;
  }

  /** Everything held, which is no longer held. */
  takeHeld(): Buffer[] {
    const pieces = this.held;
    this.held = [];
    this.heldLen = 0;
    return pieces;
  }

  private hold(b: Buffer): void {
    this.held.push(b);
    this.heldLen += b.length;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }
}
