// The relay's bookkeeping of stream credit (docs/messenger.md, "Window sizing"). A Half holds the credit its
// connection may still send; the connection at the other end granted it. A client may grant up to baseWindow on
// every stream (what clients always could), and beyond that at most connWindow bytes across all its streams, each
// stream at most maxWindow: what one client makes the messenger hold for it is bounded by its streams times
// baseWindow plus connWindow, and a stream still holds at most one window per direction.
import { ProtocolError } from './protocol.js';

/** What the bookkeeping reads of a connection (conn.ts's Conn). */
interface Conn {
  peer: false | 'in' | 'out';
  grantedExtra: number;
  readonly baseWindow: number;
  farWindow: number;
  readonly streams: { readonly size: number };
}

/** What it reads of a stream's half (conn.ts's Half). */
interface Half {
  conn: Conn;
  sid: number;
  peer: Half;
  credit: number;
  banked?: number;
  hinted?: boolean;
}

export interface WindowLimits {
  /** Largest credit on one stream direction. */
  maxWindow: number;
  /** Credit every stream may hold without drawing on its connection's connWindow. */
  baseWindow: number;
  /** Credit beyond baseWindow per stream that one client connection may grant across all its streams. */
  connWindow: number;
}

/** The fixed window of clients and messengers from before window sizing: what a messenger that does not say
 *  otherwise (HELLO `limits`, PEER) is taken to allow. */
export const LEGACY_WINDOW = 1024 * 1024;

/** Sets the credit `h.conn` holds, charging its grantor (`h.peer.conn`) for what exceeds its base window. */
export function setCredit(h: Half, credit: number): void {
  const g = h.peer.conn;
  g.grantedExtra += Math.max(0, credit - g.baseWindow) - Math.max(0, h.credit - g.baseWindow);
  h.credit = credit;
}

/**
 * `c` grants `inc` bytes more (WINDOW, or the initial window of ACCEPT) to the far end of its half `h`. Throws a
 * ProtocolError when that oversteps the limits. Returns what to pass on to the far end's connection: all of it,
 * except to another messenger whose window is smaller (one from before window sizing): that one gets at most its
 * window, and the rest is banked on the half and passed on as DATA uses the credit up (see release).
 */
export function grant(c: Conn, h: Half, inc: number, lim: WindowLimits): number {
  const to = h.peer;
  if (inc === 0) return 0;
  const total = to.credit + (to.banked ?? 0) + inc;
  if (total > lim.maxWindow) throw new ProtocolError(`stream ${h.sid}: window grows past ${lim.maxWindow}`);
  let pass = inc;
  if (to.conn.peer && total > to.conn.farWindow) {
    pass = Math.max(0, to.conn.farWindow - to.credit);
    to.banked = (to.banked ?? 0) + inc - pass;
  }
  setCredit(to, to.credit + pass);
  if (!c.peer && c.grantedExtra > lim.connWindow) {
    throw new ProtocolError(
      `stream ${h.sid}: the connection grants ${c.grantedExtra} bytes of credit beyond ${lim.baseWindow} per stream, over its ${lim.connWindow}`,
    );
  }
  to.hinted = false;
  return pass;
}

/**
 * `h` (a half on a link to another messenger) used credit up: passes on banked credit once a quarter of that
 * messenger's window is free. Returns the bytes to send it as WINDOW (0: none).
 */
export function release(h: Half): number {
  const banked = h.banked ?? 0;
  if (banked === 0) return 0;
  const cap = h.conn.farWindow;
  const room = cap - h.credit;
  if (room < Math.min(banked, cap / 4)) return 0;
  const n = Math.min(room, banked);
  h.banked = banked - n;
  setCredit(h, h.credit + n);
  return n;
}

/**
 * A sender says it waits for credit (WINDOW with increment 0, sent by clients that size windows). Passed on once
 * per grant at most, so a client cannot make the messenger queue a stream of them for a peer that does not read.
 */
export function passHint(h: Half): boolean {
  if (h.hinted) return false;
  h.hinted = true;
  return true;
}

/** How many stream bytes may wait for `c` because of the credit it granted (what `congested` allows beyond). */
export function grantedBound(c: Conn, lim: WindowLimits): number {
  const n = c.streams.size;
  return c.peer ? n * lim.maxWindow : Math.min(n * lim.maxWindow, n * lim.baseWindow + lim.connWindow);
}

/** The `maxWindow` another messenger states in its PEER request or answer; older ones do not: LEGACY_WINDOW. */
export function farWindowOf(payload: Buffer): number {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return LEGACY_WINDOW;
  }
  const w = v !== null && typeof v === 'object' ? (v as { maxWindow?: unknown }).maxWindow : undefined;
  return typeof w === 'number' && Number.isInteger(w) && w >= LEGACY_WINDOW && w <= 0xffffffff ? w : LEGACY_WINDOW;
}
