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

// The unacknowledged bytes are copied into blocks reused from a process-wide pool rather than kept as the
// Buffers they were written in: those would live until the far end's count arrives, long enough for V8 to
// promote them, and then wait as old-space garbage for a full collection (tens of MB in a node sending at
// 1 Gbit/s: bench/node/memory.bench.ts). A copy costs a memcpy per byte sent; the blocks are never garbage.
const BLOCK = 64 * 1024;
/** Free blocks kept for reuse, process-wide (4 MiB); more are left to the garbage collector. */
const POOL_MAX = 64;
const pool: Buffer[] = [];
const takeBlock = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(BLOCK);
const giveBlock = (b: Buffer): void => {
  if (pool.length < POOL_MAX) pool.push(b);
};

export class SendWindow {
  /** Payload bytes sent, and how many of them the far end reported consumed. */
  private sent = 0;
  private consumed = 0;
  /** Sent bytes not reported consumed, packed in blocks: from `head` in the first block to `tail` in the last. */
  private blocks: Buffer[] = [];
  private head = 0;
  private tail = BLOCK;
  /** The stream offset of the first kept byte. */
  private unackedStart = 0;
  private waiter: (() => void) | undefined;

  get full(): boolean {
    return this.sent - this.consumed >= WINDOW;
  }

  /** Records `bytes` sent as `pieces` (copied); `keep` = false when the far end will take no more (nothing to resend). */
  record(pieces: Buffer[], bytes: number, keep: boolean): void {
    this.sent += bytes;
    if (!keep) {
      this.dropUnacked();
      return;
    }
    for (const b of pieces) {
      let off = 0;
      while (off < b.length) {
        if (this.tail === BLOCK) {
          this.blocks.push(takeBlock());
          this.tail = 0;
        }
        const n = b.copy(this.blocks[this.blocks.length - 1], this.tail, off);
        this.tail += n;
        off += n;
      }
    }
  }

  /** The far end's reader consumed `count` bytes: forget them (never asked for again), wake a waiting writer. */
  ack(count: number): void {
    if (count > this.consumed) this.consumed = Math.min(count, this.sent);
    let drop = this.consumed - this.unackedStart;
    while (drop > 0 && this.blocks.length) {
      const end = this.blocks.length === 1 ? this.tail : BLOCK;
      const n = Math.min(drop, end - this.head);
      this.head += n;
      this.unackedStart += n;
      drop -= n;
      if (this.head === end) {
        giveBlock(this.blocks.shift()!);
        this.head = 0;
        if (!this.blocks.length) this.tail = BLOCK;
      }
    }
    if (!this.full) this.release();
  }

  /** Nothing sent so far will be asked for again (the far end closed its side). */
  dropUnacked(): void {
    for (const b of this.blocks) giveBlock(b);
    this.blocks = [];
    this.head = 0;
    this.tail = BLOCK;
    this.unackedStart = this.sent;
  }

  /**
   * The bytes after stream offset `from` (what the far end has not received), or null if they are not kept: views
   * of the blocks, valid until the far end acknowledges them (send them at once).
   */
  resendFrom(from: number): Buffer[] | null {
    if (from < this.unackedStart || from > this.sent) return null;
    let skip = from - this.unackedStart;
    const out: Buffer[] = [];
    this.blocks.forEach((b, i) => {
      const start = i === 0 ? this.head : 0;
      const end = i === this.blocks.length - 1 ? this.tail : BLOCK;
      const n = end - start;
      if (skip >= n) {
        skip -= n;
        return;
      }
      out.push(b.subarray(start + skip, end));
      skip = 0;
    });
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
