// Exact-length reads from a stream during a handshake, then hands the stream back (with any bytes
// already received past the handshake) so the caller can pipe it. Rejects when the stream ends early.
import type { Duplex } from 'node:stream';

const MAX_BUFFERED = 64 * 1024;

export class StreamEndedError extends Error {
  constructor() {
    super('stream ended during the handshake');
  }
}

export class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private ended: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.length += chunk.length;
    // A peer flooding bytes during the handshake is held back by TCP flow control, not buffered.
    if (this.length > MAX_BUFFERED) this.stream.pause();
    this.serve();
  };
  private readonly onEnd = () => this.fail(new StreamEndedError());
  private readonly onError = (err: Error) => this.fail(err);

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    stream.resume(); // a stream handed over explicitly paused (e.g. after unshift) would never flow
  }

  /** Resolves with exactly `n` bytes. One read at a time. */
  read(n: number): Promise<Buffer> {
    if (this.want) return Promise.reject(new Error('ByteReader: concurrent read'));
    return new Promise<Buffer>((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.serve();
    });
  }

  /** Bytes received but not yet read. */
  get buffered(): number {
    return this.length;
  }

  /** Stops reading; returns the bytes received past what was read. The stream is left paused. */
  release(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.length = 0;
    return rest;
  }

  private serve(): void {
    const w = this.want;
    if (!w) return;
    if (this.length >= w.n) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const out = all.subarray(0, w.n);
      const rest = all.subarray(w.n);
      this.chunks = rest.length ? [rest] : [];
      this.length = rest.length;
      this.want = null;
      if (this.length <= MAX_BUFFERED && this.stream.isPaused()) this.stream.resume();
      w.resolve(out);
    } else if (this.ended) {
      this.want = null;
      w.reject(this.ended);
    }
  }

  private fail(err: Error): void {
    if (!this.ended) this.ended = err;
    this.serve();
  }
}
