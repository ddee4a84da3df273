// The one batching policy of every layer that writes stream bytes on another's behalf: the secure channel
// (secure.ts), the messenger's frame writer, a route end cutting writes into packets, and the node's app API
// joining an app socket to a stream. The sizes it reasons about, once:
//   - a secure-channel message holds at most 65535 bytes of plaintext (BOLT #8, docs/net.md);
//   - a route packet holds 65528 payload bytes, so that header and payload fit one message (docs/routing.md);
//   - the end-to-end channel over a route writes messages of 65569 bytes (65535 + 34 of length and tags);
//   - a TCP socket delivers reads of 64 KiB, one byte more than a message holds.
// Written as they come, each of those would cost a full unit and a tiny one (another cipher call, 34 bytes,
// another packet), and the units one layer down would no longer line up. So bulk bytes are held until the end
// of the event-loop turn (setImmediate, after every socket read of that turn) and written as full units, while
// a small write arriving alone - interactive traffic - goes at once and pays no extra turn.

/** A write smaller than this, with nothing waiting before it, is interactive: it goes out at once. */
export const INTERACTIVE_BYTES = 16 * 1024;
/** Pieces averaging less than this (control frames, headers) are copied together: one copy beats a call each. */
export const SMALL_PIECE_BYTES = 4096;
/** Bytes gathered over one turn are written at once when they reach this, not held for the end of the turn. */
export const MAX_BATCH_BYTES = 512 * 1024;

/** Whether a write of `len` bytes, with `waiting` bytes already held, goes out at once (else: end of the turn). */
export function sendsAtOnce(len: number, waiting: number): boolean {
  return waiting === 0 && len < INTERACTIVE_BYTES;
}

/** Whether `count` pieces of `len` bytes in all, bound for one message, are copied together before sealing. */
export function coalesces(len: number, count: number): boolean {
  return count > 1 && (len <= INTERACTIVE_BYTES || len / count < SMALL_PIECE_BYTES);
}

/**
 * Cuts a list of buffers into consecutive groups of at most `max` bytes (pieces are sliced, never copied) and
 * hands each group, with its length, to `take`.
 */
export function forEachGroup(bufs: Buffer[], max: number, take: (group: Buffer[], len: number) => void): void {
  let group: Buffer[] = [];
  let len = 0;
  for (let b of bufs) {
    while (b.length) {
      const piece = b.length <= max - len ? b : b.subarray(0, max - len);
      group.push(piece);
      len += piece.length;
      b = b.subarray(piece.length);
      if (len === max) {
        take(group, len);
        group = [];
        len = 0;
      }
    }
  }
  if (len) take(group, len);
}
