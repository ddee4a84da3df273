// Length-prefixed frames on a byte stream: [header (fixed bytes)] [length, big-endian] [body of `length` bytes].
// The length is checked against the maximum as soon as it is readable, so a peer can never make us buffer more
// than one maximum frame, whatever it claims.

export class FrameTooLargeError extends Error {
  readonly code = 'frame_too_large';
  constructor(
    readonly length: number,
    readonly maxLength: number,
  ) {
    super(`frame length ${length} exceeds the maximum of ${maxLength} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

export interface FrameDecoderOptions {
  lengthBytes: 2 | 4;
  /** Bytes before the length field (e.g. a type byte and a sequence number). Default 0. */
  headerBytes?: number;
  /** Largest accepted body length. */
  maxLength: number;
}

export class FrameDecoder {
  private readonly lengthBytes: 2 | 4;
  private readonly headerBytes: number;
  private readonly maxLength: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: FrameTooLargeError | undefined;

  constructor(o: FrameDecoderOptions) {
    if (o.lengthBytes !== 2 && o.lengthBytes !== 4) throw new Error('lengthBytes must be 2 or 4');
    const headerBytes = o.headerBytes ?? 0;
    if (!Number.isInteger(headerBytes) || headerBytes < 0) throw new Error('headerBytes must be a non-negative integer');
    if (!Number.isInteger(o.maxLength) || o.maxLength < 0) throw new Error('maxLength must be a non-negative integer');
    this.lengthBytes = o.lengthBytes;
    this.headerBytes = headerBytes;
    this.maxLength = o.maxLength;
  }

  /** Bytes held waiting for the rest of a frame (never more than one maximum frame). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Adds bytes; returns the frames completed by them, each as header + length + body.
   * Throws FrameTooLargeError (and keeps throwing) once a frame announces a length above the maximum.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const prefix = this.headerBytes + this.lengthBytes;
    while (this.buffered >= prefix) {
      const length = this.peekLength(prefix);
      if (length > this.maxLength) {
        this.failed = new FrameTooLargeError(length, this.maxLength);
        this.chunks = [];
        this.buffered = 0;
        throw this.failed;
      }
      const total = prefix + length;
      if (this.buffered < total) break;
      frames.push(this.take(total));
    }
    return frames;
  }

  private peekLength(prefix: number): number {
    let head = this.chunks[0];
    if (head.length < prefix) {
      // Rare: the prefix straddles chunks. Merge just enough chunks to read it.
      head = Buffer.concat(this.chunks);
      this.chunks = [head];
    }
    return this.lengthBytes === 2 ? head.readUInt16BE(this.headerBytes) : head.readUInt32BE(this.headerBytes);
  }

  /** Removes and returns the first `n` buffered bytes, without copying when they sit in one chunk. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const head = this.chunks[0];
    if (head.length >= n) {
      if (head.length === n) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
