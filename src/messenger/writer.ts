// Gathers frames into corked writes, by the batching policy of src/net/batching.ts: small frames (WINDOW, ACCEPT,
// responses...) share secure-channel messages, and DATA waits for the end of the event-loop turn so the relay
// forwards many DATA frames per system call instead of one.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SMALL_PIECE_BYTES } from '../net/batching.js';

const MAX_WRITE = 65535;

export class FrameWriter {
  private queue: Buffer[] = [];
  private scheduled = false;

  constructor(private readonly out: Duplex) {}

  send(frame: Buffer): void {
    if (this.out.destroyed || this.out.writableEnded) return;
    this.queue.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      // Control frames (credit above all) go out at once; DATA waits for the turn's other reads to batch.
      if (frame.length < SMALL_PIECE_BYTES) process.nextTick(() => this.flush());
      else setImmediate(() => this.flush());
    }
  }

  /** Bytes waiting in the channel (what a slow reader on the far side leaves behind). */
  get pending(): number {
    return this.out.writableLength;
  }

  flush(): void {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    if (this.out.destroyed || this.out.writableEnded || q.length === 0) return;
    // Corked, the channel gets all pieces in one _writev and packs them into as few messages as fit.
    this.out.cork();
    let small: Buffer[] = [];
    let size = 0;
    const emitSmall = () => {
      if (small.length === 1) this.out.write(small[0]);
      else if (small.length > 1) this.out.write(Buffer.concat(small, size));
      small = [];
      size = 0;
    };
    for (const f of q) {
      if (f.length >= SMALL_PIECE_BYTES) {
        emitSmall();
        this.out.write(f);
        continue;
      }
      if (size + f.length > MAX_WRITE) emitSmall();
      small.push(f);
      size += f.length;
    }
    emitSmall();
    this.out.uncork();
  }

  /** Flushes what is queued, then ends the channel (the far end sees the last frames before the close). */
  end(): void {
    this.flush();
    if (!this.out.destroyed && !this.out.writableEnded) this.out.end();
  }
}

/**
 * Turns off Nagle on the TCP socket under a secure channel: credit (WINDOW) frames are small, and holding them
 * back until earlier segments are acknowledged stalls every relayed stream.
 */
export function noDelay(ch: Duplex): void {
  const t = (ch as Duplex & { transport?: Duplex }).transport as Partial<Socket> | undefined;
  t?.setNoDelay?.(true);
}
