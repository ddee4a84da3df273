// What the relay holds back for a connection that does not read what waits for it (congested): credit is added up
// into one WINDOW per stream, DATA payloads are copied into chunks (a CLOSE waits behind them), and all of it goes
// out when the connection drains. Without this, a peer could make the relay queue a whole frame per byte: WINDOWs
// of 1 byte (11 bytes held per byte of credit) or DATA of 1 byte (8 per byte), so one 16 MiB window could hold
// 128-176 MB. Held this way, a stream holds at most its credit in payload bytes (docs/messenger.md, Limits).
import type { Conn, Half } from './conn.js';
import { FRAME_HEADER_BYTES, T, encodeClose, encodeData, encodeSidU32 } from './protocol.js';

/** Held payload is copied into chunks of this size (one partly used chunk per stream at most). */
const CHUNK = 8 * 1024;

export class Deferral {
  constructor(
    private readonly congested: (c: Conn) => boolean,
    /** A CLOSE held for `h` went out (the stream may now end at the relay). */
    private readonly closeSent: (h: Half) => void,
  ) {}

  /** Credit for `to` (what its connection may send). */
  credit(to: Half, n: number): void {
    if (!this.waiting(to.conn)) return to.conn.writer.send(encodeSidU32(T.WINDOW, to.sid, n));
    to.conn.deferred!.add(to);
    to.unsent = (to.unsent ?? 0) + n;
  }

  /** A DATA frame for `to` (pieces, the first holding the header with `to`'s stream id written in). */
  data(to: Half, pieces: Buffer[]): void {
    const t = to.conn;
    if (!this.waiting(t)) {
      for (const p of pieces) t.writer.send(p);
      return;
    }
    t.deferred!.add(to);
    const held = (to.held ??= []);
    for (let i = 0; i < pieces.length; i++) {
      let p = i === 0 ? pieces[0].subarray(FRAME_HEADER_BYTES + 4) : pieces[i];
      while (p.length > 0) {
        let last = held[held.length - 1];
        if (!last || last.used === last.buf.length) held.push((last = { buf: Buffer.allocUnsafe(CHUNK), used: 0 }));
        const n = p.copy(last.buf, last.used);
        last.used += n;
        p = p.subarray(n);
      }
    }
  }

  /** The far end of `to` sent CLOSE: after whatever data of it is held (then `closeSent`; true if held). */
  close(to: Half): void {
    if (to.held?.length) to.closeHeld = true;
    else to.conn.writer.send(encodeClose(to.sid));
  }

  /** Bytes held for `c`'s streams (payload chunks). */
  heldBytes(c: Conn): number {
    let n = 0;
    for (const h of c.deferred ?? []) for (const x of h.held ?? []) n += x.buf.length;
    return n;
  }

  /** The stream is gone: nothing held for it goes out. */
  drop(h: Half): void {
    h.held = undefined;
    h.unsent = 0;
    h.closeHeld = false;
  }

  /** True while what goes to `t` must wait; starts waiting (until it drains) when it is congested. */
  private waiting(t: Conn): boolean {
    if (t.deferred) return true;
    if (!this.congested(t)) return false;
    t.deferred = new Set();
    t.ch.once('drain', () => this.flush(t));
    return true;
  }

  private flush(t: Conn): void {
    const halves = t.deferred ?? [];
    t.deferred = undefined;
    for (const h of halves) {
      if (t.streams.get(h.sid) !== h) continue;
      for (const x of h.held ?? []) t.writer.send(encodeData(h.sid, x.buf.subarray(0, x.used)));
      const closed = h.closeHeld;
      if (closed) t.writer.send(encodeClose(h.sid));
      const n = h.unsent ?? 0;
      if (n > 0) t.writer.send(encodeSidU32(T.WINDOW, h.sid, n));
      this.drop(h);
      if (closed) this.closeSent(h);
    }
  }
}
