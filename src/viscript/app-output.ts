// Everything an app writes is kept twice: the last lines in memory (for `logs` and late attaches) and every
// byte in a size-rotated file per app, whether anyone is attached or not, so a chatty app never blocks on a
// full pipe and nothing is lost when nobody watches.
import { createWriteStream, fstatSync, mkdirSync, openSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export type StreamName = 'stdout' | 'stderr';

export interface OutputLine {
  stream: StreamName;
  text: string;
  /** ms since the epoch, when the line was complete. */
  t: number;
}

/** The last `maxLines` complete lines (a partial last line is kept until its newline or flush()). */
export class LineBuffer {
  // A ring: a flood of output costs O(1) per line, whatever maxLines is.
  private readonly ring: OutputLine[] = [];
  private next = 0;
  private readonly partial: Record<StreamName, string> = { stdout: '', stderr: '' };
  private dropped = 0;

  constructor(
    private readonly maxLines = 2000,
    private readonly maxLineChars = 16 * 1024,
  ) {}

  push(stream: StreamName, chunk: string): OutputLine[] {
    const parts = (this.partial[stream] + chunk).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    // A line with no newline for a long time is cut so memory stays bounded.
    if (this.partial[stream].length > this.maxLineChars) {
      parts.push(this.partial[stream]);
      this.partial[stream] = '';
    }
    return parts.map((p) => this.add(stream, p.endsWith('\r') ? p.slice(0, -1) : p));
  }

  /** Completes partial lines (when the app exits). */
  flush(): OutputLine[] {
    const out: OutputLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) out.push(this.add(stream, this.partial[stream]));
      this.partial[stream] = '';
    }
    return out;
  }

  /** The last `n` lines, oldest first. */
  tail(n: number): OutputLine[] {
    const count = Math.min(Math.max(n, 0), this.ring.length);
    const out: OutputLine[] = [];
    for (let i = count; i > 0; i--) out.push(this.ring[(this.next - i + this.ring.length) % this.ring.length]);
    return out;
  }

  /** Lines that fell out of the buffer (they are still in the log file). */
  get droppedLines(): number {
    return this.dropped;
  }

  private add(stream: StreamName, text: string): OutputLine {
    const line = { stream, text: text.length > this.maxLineChars ? text.slice(0, this.maxLineChars) : text, t: Date.now() };
    if (this.ring.length < this.maxLines) this.ring.push(line);
    else {
      this.ring[this.next] = line;
      this.dropped++;
    }
    this.next = (this.next + 1) % this.maxLines;
    return line;
  }
}

/** Appends to `path`; past `maxBytes` it moves path -> path.1 -> ... -> path.<keep> and starts afresh. */
export class RotatingLog {
  private stream: WriteStream | undefined;
  private size = 0;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly maxBytes = 1024 * 1024,
    private readonly keep = 3,
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(chunk: Buffer | string): void {
    if (this.closed) return;
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.stream && this.size + len > this.maxBytes && this.size > 0) this.rotate();
    if (!this.stream) this.open();
    if (!this.stream) return;
    this.stream.write(chunk);
    this.size += len;
  }

  close(): Promise<void> {
    this.closed = true;
    const s = this.stream;
    this.stream = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }

  private open(): void {
    // Opened synchronously so the descriptor exists before any rotation renames the path: writes still
    // queued on a rotated stream then land in the renamed file, since a descriptor follows its file.
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch {
      return; // a removed state dir or a full disk must not take the launcher down; memory still has it
    }
    this.stream = createWriteStream('', { fd });
    this.stream.on('error', () => {
      this.stream = undefined;
    });
    this.size = fstatSync(fd).size;
  }

  private rotate(): void {
    const old = this.stream;
    this.stream = undefined;
    try {
      if (this.keep === 0) rmSync(this.path, { force: true });
      else {
        for (let i = this.keep - 1; i >= 1; i--) {
          try {
            renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          } catch {
            // that generation does not exist yet
          }
        }
        renameSync(this.path, `${this.path}.1`);
      }
    } catch {
      // keep writing to a fresh file even if renaming failed
    }
    old?.end();
  }
}
