// The sending side of a route end's flow control and repair (docs/routing.md, Backpressure and Repair): bytes
// sent, bytes the far end's reader reported consumed, and the sent bytes it has not reported yet, kept so that a
// repaired route can resend them.
//
// Flow control per route: a sender keeps at most WINDOW bytes unconsumed by the far end's reader. The reader's
// end reports how many bytes its reader consumed in KEEPALIVE packets (8-byte payload), so a stream whose
// reader stalls stops its own sender without blocking the other routes that share the transports. Once an end
// has half-closed, its outbound rules are gone and it can send no more counts: the far end then stops counting,
// and that end falls back to pausing its inbound transport while its reader is full.

/** Bytes a sender may have in flight beyond what the far end's reader consumed. */
export const WINDOW = 2 * 1024 * 1024;

export class SendWindow {
  /** Payload bytes sent, and how many of them the far end reported consumed. */
  private sent = 0;
  private consumed = 0;
  /** Sent bytes not reported consumed: the pieces, and the stream offset of the first. */
  private unacked: Buffer[] = [];
  private unackedStart = 0;
  private waiter: (() => void) | undefined;

  get full(): boolean {
    return this.sent - this.consumed >= WINDOW;
  }

  /** Records `bytes` sent as `pieces`; `keep` = false when the far end will take no more (nothing to resend). */
  record(pieces: Buffer[], bytes: number, keep: boolean): void {
    this.sent += bytes;
    if (!keep) this.dropUnacked();
    else for (const b of pieces) if (b.length) this.unacked.push(b);
  }

  /** The far end's reader consumed `count` bytes: forget them (never asked for again), wake a waiting writer. */
  ack(count: number): void {
    if (count > this.consumed) this.consumed = Math.min(count, this.sent);
    while (this.unacked.length && this.unackedStart + this.unacked[0].length <= this.consumed) {
      this.unackedStart += this.unacked.shift()!.length;
    }
    if (!this.full) this.release();
  }

  /** Nothing sent so far will be asked for again (the far end closed its side). */
  dropUnacked(): void {
    this.unacked = [];
    this.unackedStart = this.sent;
  }

  /** The bytes after stream offset `from` (what the far end has not received), or null if they are not kept. */
  resendFrom(from: number): Buffer[] | null {
    if (from < this.unackedStart || from > this.sent) return null;
    let off = this.unackedStart;
    const out: Buffer[] = [];
    for (const b of this.unacked) {
      if (off + b.length > from) out.push(off >= from ? b : b.subarray(from - off));
      off += b.length;
    }
    return out;
  }

  /** Calls `cb` once the window has room again (or `release` is called because the stream ended). */
  wait(cb: () => void): void {
    this.waiter = cb;
  }

  release(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
