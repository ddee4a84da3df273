// The deterministic data a source server sends (stream-tool.ts), and its SHA-256, which the tests expect.
import { createHash } from 'node:crypto';

const CHUNK = 64 * 1024;

/** Chunk i: 64 KiB (at most `left` bytes) of a byte pattern, with i at its start so a reorder shows. */
export function sourceChunk(i: number, left: number): Buffer {
  const b = Buffer.alloc(Math.min(CHUNK, left), (i * 7) % 251);
  if (b.length >= 4) b.writeUInt32BE(i, 0);
  return b;
}

export function sourceSha256(total: number): string {
  const h = createHash('sha256');
  for (let i = 0, sent = 0; sent < total; i++) {
    const c = sourceChunk(i, total - sent);
    h.update(c);
    sent += c.length;
  }
  return h.digest('hex');
}
