// The messenger wire protocol, spoken inside a BOLT #8 secure channel (docs/messenger.md has the byte diagrams).
// Every frame is `type u8 | length u16 | body[length]`, big-endian, so a whole frame (<= 65535 bytes) fits one
// secure-channel message and a decoder never buffers more than one maximum frame.

export const FRAME_HEADER_BYTES = 3;
/** Largest body: the whole frame then is exactly one BOLT #8 message (65535 bytes). */
export const MAX_BODY = 65535 - FRAME_HEADER_BYTES;
/** DATA carries `sid u32` then the payload. */
export const MAX_DATA_PAYLOAD = MAX_BODY - 4;
export const PROTOCOL_VERSION = 1;

export const T = {
  REQ: 0x01, // req u32 | op u8 | payload
  RES: 0x02, // req u32 | code u8 | payload (JSON on success, UTF-8 message on error)
  DGRAM: 0x03, // from pk[33] | data                 (server -> client)
  PING: 0x04, // nonce[8]
  PONG: 0x05, // nonce[8]
  GOAWAY: 0x06, // code u8 | reason UTF-8            (the sender closes after it)
  OPEN: 0x10, // sid u32 | window u32 | port u16 | pk[33]
  ACCEPT: 0x11, // sid u32 | window u32
  DATA: 0x12, // sid u32 | payload
  WINDOW: 0x13, // sid u32 | increment u32
  CLOSE: 0x14, // sid u32                            (no more DATA from the sender on this stream)
  RESET: 0x15, // sid u32 | code u8                  (the stream is gone, both directions)
  // Between messengers of one shared registry only (a connection that proved it is one, with PEER):
  FOPEN: 0x16, // sid u32 | window u32 | port u16 | to pk[33] | from pk[33]
} as const;

export const OP = {
  HELLO: 0x01, // JSON {version, addresses?, services?} -> JSON {version, limits}
  ANNOUNCE: 0x02, // JSON {addresses?, services?} -> JSON null
  LOOKUP: 0x03, // pk[33] -> JSON Entry | null
  QUERY: 0x04, // JSON {service?, attr?, offset?, limit?} -> JSON {entries, total}
  SEND: 0x05, // to pk[33] | data -> JSON null
  // Between messengers of one shared registry only:
  PEER: 0x06, // JSON {version} -> JSON {version}: the caller is a messenger of this registry (checked in Redis)
  FSEND: 0x07, // to pk[33] | from pk[33] | data -> JSON null (a datagram forwarded for a client of the caller)
} as const;

/** One code table for RES status, RESET and GOAWAY. The names are the `.code` of MessengerError. */
export const CODES = [
  'ok', // 0
  'bad_request', // 1
  'offline', // 2
  'too_large', // 3
  'rate_limited', // 4
  'congested', // 5
  'refused', // 6
  'limit', // 7
  'reset', // 8
  'peer_gone', // 9
  'protocol_error', // 10
  'timeout', // 11
  'replaced', // 12
  'shutdown', // 13
  'unsupported', // 14
  'internal', // 15
] as const;
export type WireCode = (typeof CODES)[number];

export function codeNumber(code: WireCode): number {
  return CODES.indexOf(code);
}

/** The name of a non-zero code (an error); 0 or an unknown number gives 'unknown'. */
export function codeName(n: number): Exclude<WireCode, 'ok'> | 'unknown' {
  const c = CODES[n];
  return c === undefined || c === 'ok' ? 'unknown' : c;
}

export const PK_BYTES = 33;

function frame(type: number, bodyLength: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  b[0] = type;
  b.writeUInt16BE(bodyLength, 1);
  return b;
}

/** REQ and RES share a layout: `req u32 | op or code u8 | payload`. */
function encodeReqOrRes(type: typeof T.REQ | typeof T.RES, req: number, byte: number, payload: Buffer): Buffer {
  const b = frame(type, 5 + payload.length);
  b.writeUInt32BE(req, 3);
  b[7] = byte;
  payload.copy(b, 8);
  return b;
}

export function encodeReq(req: number, op: number, payload: Buffer): Buffer {
  return encodeReqOrRes(T.REQ, req, op, payload);
}

export function encodeRes(req: number, code: number, payload: Buffer): Buffer {
  return encodeReqOrRes(T.RES, req, code, payload);
}

export function encodeDgram(from: Buffer, data: Buffer): Buffer {
  const b = frame(T.DGRAM, PK_BYTES + data.length);
  from.copy(b, 3);
  data.copy(b, 3 + PK_BYTES);
  return b;
}

export function encodePing(type: typeof T.PING | typeof T.PONG, nonce: Buffer): Buffer {
  const b = frame(type, 8);
  nonce.copy(b, 3, 0, 8);
  return b;
}

export function encodeGoaway(code: number, reason: string): Buffer {
  const text = Buffer.from(reason.slice(0, 200), 'utf8');
  const b = frame(T.GOAWAY, 1 + text.length);
  b[3] = code;
  text.copy(b, 4);
  return b;
}

export function encodeFopen(sid: number, window: number, port: number, to: Buffer, from: Buffer): Buffer {
  const b = frame(T.FOPEN, 10 + 2 * PK_BYTES);
  b.writeUInt32BE(sid, 3);
  b.writeUInt32BE(window, 7);
  b.writeUInt16BE(port, 11);
  to.copy(b, 13);
  from.copy(b, 13 + PK_BYTES);
  return b;
}

export function encodeOpen(sid: number, window: number, port: number, pk: Buffer): Buffer {
  const b = frame(T.OPEN, 10 + PK_BYTES);
  b.writeUInt32BE(sid, 3);
  b.writeUInt32BE(window, 7);
  b.writeUInt16BE(port, 11);
  pk.copy(b, 13);
  return b;
}

export function encodeSidU32(type: typeof T.ACCEPT | typeof T.WINDOW, sid: number, value: number): Buffer {
  const b = frame(type, 8);
  b.writeUInt32BE(sid, 3);
  b.writeUInt32BE(value, 7);
  return b;
}

export function encodeData(sid: number, payload: Buffer): Buffer {
  const b = frame(T.DATA, 4 + payload.length);
  b.writeUInt32BE(sid, 3);
  payload.copy(b, 7);
  return b;
}

export function encodeClose(sid: number): Buffer {
  const b = frame(T.CLOSE, 4);
  b.writeUInt32BE(sid, 3);
  return b;
}

export function encodeReset(sid: number, code: number): Buffer {
  const b = frame(T.RESET, 5);
  b.writeUInt32BE(sid, 3);
  b[7] = code;
  return b;
}

/** Thrown by frame parsing and handlers when a peer breaks the protocol; the connection is then closed. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Exact body length per fixed-size frame type (undefined: variable, checked by its handler). */
const FIXED_BODY: Record<number, number | undefined> = {
  [T.PING]: 8,
  [T.PONG]: 8,
  [T.OPEN]: 10 + PK_BYTES,
  [T.FOPEN]: 10 + 2 * PK_BYTES,
  [T.ACCEPT]: 8,
  [T.WINDOW]: 8,
  [T.CLOSE]: 4,
  [T.RESET]: 5,
};
const MIN_BODY: Record<number, number> = { [T.REQ]: 5, [T.RES]: 5, [T.DGRAM]: PK_BYTES, [T.GOAWAY]: 1, [T.DATA]: 5 };

/** Checks a frame header's type and body length (before waiting for the body, so junk fails at once). */
export function checkHeader(type: number, len: number): void {
  if (len > MAX_BODY) throw new ProtocolError(`frame body of ${len} bytes exceeds ${MAX_BODY}`);
  const fixed = FIXED_BODY[type];
  if (fixed !== undefined) {
    if (len !== fixed) throw new ProtocolError(`frame type 0x${type.toString(16)} must have a ${fixed}-byte body, got ${len}`);
  } else if (MIN_BODY[type] !== undefined) {
    if (len < MIN_BODY[type]) throw new ProtocolError(`frame type 0x${type.toString(16)} body too short (${len} bytes)`);
  } else {
    throw new ProtocolError(`unknown frame type 0x${type.toString(16)}`);
  }
}

/** A frame: one buffer, or for a DATA frame that arrived in several pieces, the pieces (header in the first). */
export type Frame = Buffer | Buffer[];

/**
 * Splits the byte stream into frames. Each header is checked as soon as its 3 bytes are in, so a peer can make
 * us hold at most one maximum frame, and only of a type that may be that long. DATA frames spread over several
 * chunks come out as pieces rather than being copied together: the relay forwards them as they are.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the partial frame held, once its header is known (0: not yet). */
  private need = 0;

  /** Returns the complete frames; throws ProtocolError on a bad header. */
  push(chunk: Buffer): Frame[] {
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.need === 0 && this.buffered >= FRAME_HEADER_BYTES) {
        const head = Buffer.concat(this.chunks, this.buffered);
        this.chunks = [head];
        const len = head.readUInt16BE(1);
        checkHeader(head[0], len);
        this.need = FRAME_HEADER_BYTES + len;
      }
      if (this.need === 0 || this.buffered < this.need) return [];
      const need = this.need;
      const held = this.chunks;
      this.chunks = [];
      this.buffered = 0;
      this.need = 0;
      let frame: Frame;
      const after: Buffer[] = [];
      if (held[0][0] === T.DATA && held[0].length >= 7) {
        const pieces: Buffer[] = [];
        let left = need;
        for (const c of held) {
          if (left === 0) after.push(c);
          else if (c.length <= left) {
            pieces.push(c);
            left -= c.length;
          } else {
            pieces.push(c.subarray(0, left));
            after.push(c.subarray(left));
            left = 0;
          }
        }
        frame = pieces;
      } else {
        const all = Buffer.concat(held);
        frame = all.subarray(0, need);
        if (all.length > need) after.push(all.subarray(need));
      }
      if (after.length === 0) return [frame];
      return [frame, ...this.push(after.length === 1 ? after[0] : Buffer.concat(after))];
    }
    // Whole frames straight out of the chunk, without copies.
    const out: Frame[] = [];
    let off = 0;
    while (chunk.length - off >= FRAME_HEADER_BYTES) {
      const len = chunk.readUInt16BE(off + 1);
      checkHeader(chunk[off], len);
      const end = off + FRAME_HEADER_BYTES + len;
      if (end > chunk.length) {
        this.need = end - off;
        break;
      }
      out.push(chunk.subarray(off, end));
      off = end;
    }
    if (off < chunk.length) {
      this.chunks = [chunk.subarray(off)];
      this.buffered = chunk.length - off;
    }
    return out;
  }
}

export function jsonBuf(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v ?? null), 'utf8');
}

export function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    throw new ProtocolError('payload is not valid JSON');
  }
}
