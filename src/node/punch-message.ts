// The hole-punch coordination messages (docs/reachability.md, Hole punching): JSON in a PUNCH packet on route id 0
// of the relayed transport between the two nodes, so only that peer can send them, end-to-end encrypted past the
// messenger. No message carries an address: each side dials only the IPs the peer's messenger entry lists, at the
// port the peer names (unprivileged only).
import { PacketType } from './packet.js';
import type { Transport } from './transport.js';

/** A PUNCH payload above this size is dropped unread. */
export const MAX_PUNCH_BYTES = 256;
export const MIN_PUNCH_PORT = 1024;
const MAX_WHY = 120;

export type PunchMessage =
  /** Dialer -> peer: "I will dial from `port`, answer with yours"; peer -> dialer: the answer. */
  | { punch: 'connect'; id: number; port: number }
  /** Dialer -> peer: dial now (the dialer dials half a round trip later, so both SYNs leave together). */
  | { punch: 'sync'; id: number }
  /** Peer -> dialer: not now (rate limit, no relayed link, no address), so the dialer need not wait. */
  | { punch: 'refuse'; id: number; why: string };

const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 0x7fffffff;

/** The message in `payload`, or a string saying what is wrong with it. */
export function decodePunch(payload: Buffer): PunchMessage | string {
  if (payload.length > MAX_PUNCH_BYTES) return `punch message of ${payload.length} bytes (at most ${MAX_PUNCH_BYTES})`;
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'punch message is not JSON';
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'punch message is not an object';
  const m = v as Record<string, unknown>;
  if (!isId(m.id)) return `punch message id ${JSON.stringify(m.id)} is not an integer in 1..2^31-1`;
  switch (m.punch) {
    case 'connect':
      if (!Number.isInteger(m.port) || (m.port as number) < MIN_PUNCH_PORT || (m.port as number) > 65535)
        return `punch port ${JSON.stringify(m.port)} is not an integer in ${MIN_PUNCH_PORT}..65535`;
      return { punch: 'connect', id: m.id, port: m.port as number };
    case 'sync':
      return { punch: 'sync', id: m.id };
    case 'refuse':
      return { punch: 'refuse', id: m.id, why: typeof m.why === 'string' ? m.why.slice(0, MAX_WHY) : 'refused' };
    default:
      return `unknown punch message ${JSON.stringify(m.punch)?.slice(0, 40)}`;
  }
}

export function sendPunch(t: Transport, m: PunchMessage): boolean {
  return t.send(PacketType.PUNCH, 0, Buffer.from(JSON.stringify(m)));
}
