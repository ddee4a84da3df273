// Coalesces the small frames produced in one tick (WINDOW, ACCEPT, responses...) into one write, so each
// secure-channel message (and its two cipher calls) carries many of them; big frames go out on their own.
import type { Duplex } from 'node:stream';

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
      process.nextTick(() => this.flush());
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
    if (this.out.destroyed || this.out.writableEnded) return;
    let batch: Buffer[] = [];
    let size = 0;
    const emit = () => {
      if (batch.length === 1) this.out.write(batch[0]);
      else if (batch.length > 1) this.out.write(Buffer.concat(batch, size));
      batch = [];
      size = 0;
    };
    for (const f of q) {
      if (size + f.length > MAX_WRITE) emit();
      batch.push(f);
      size += f.length;
    }
    emit();
  }

  /** Flushes what is queued, then ends the channel (the far end sees the last frames before the close). */
  end(): void {
    this.flush();
    if (!this.out.destroyed && !this.out.writableEnded) this.out.end();
  }
}
