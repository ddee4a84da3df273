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
  private readonly lines: OutputLine[] = [];
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
    const added = parts.map((p) => this.add(stream, p.endsWith('\r') ? p.slice(0, -1) : p));
    return added;
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

  tail(n: number): OutputLine[] {
    return n <= 0 ? [] : this.lines.slice(-n);
  }

  get droppedLines(): number {
    return this.dropped;
  }

  private add(stream: StreamName, text: string): OutputLine {
    const line = {
      stream,
      text: text.length > this.maxLineChars ? text.slice(0, this.maxLineChars) : text,
      t: Date.now(),
    };
    this.lines.push(line);
    if (this.lines.length > this.maxLines) {
      this.lines.splice(0, this.lines.length - this.maxLines);
      this.dropped++;
    }
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
