// The signal wire format (docs/design.md section 2, byte-compatible with the 2017 Go library).
// All integers big-endian.
//   NORMAL 0x01 | seq u32 | len u32 | body[len]   (len <= 10240; body = op u8 + JSON)
//   ACK    0x80 | seq u32
//   PING   0x81 | unix_ms u64
//   PONG   0x82 | unix_ms u64

import { SignalFrameError } from './errors.js';

export const FRAME_NORMAL = 0x01;
export const FRAME_ACK = 0x80;
export const FRAME_PING = 0x81;
export const FRAME_PONG = 0x82;
export const MAX_BODY = 10240;

/** A response carries the request's op with this bit set. */
export const RESPONSE_BIT = 0x80;
// client -> server
export const OP_REG = 0x00;
// server -> client
export const OP_TOP = 0x00;
export const OP_PING = 0x01;
export const OP_SHUTDOWN = 0x02;

export type Frame =
  | { type: 'normal'; seq: number; body: Buffer }
  | { type: 'ack'; seq: number }
  // Timestamps stay bigint so a PONG echoes any u64 exactly.
  | { type: 'ping'; ms: bigint }
  | { type: 'pong'; ms: bigint };

export function encodeNormal(seq: number, body: Buffer): Buffer {
  if (body.length > MAX_BODY) throw new SignalFrameError('too_large', `body of ${body.length} bytes exceeds ${MAX_BODY}`);
  const out = Buffer.allocUnsafe(9 + body.length);
  out[0] = FRAME_NORMAL;
  out.writeUInt32BE(seq >>> 0, 1);
  out.writeUInt32BE(body.length, 5);
  body.copy(out, 9);
  return out;
}

export function encodeAck(seq: number): Buffer {
  const out = Buffer.allocUnsafe(5);
  out[0] = FRAME_ACK;
  out.writeUInt32BE(seq >>> 0, 1);
  return out;
}

function encodeStamp(type: number, ms: bigint | number): Buffer {
  const out = Buffer.allocUnsafe(9);
  out[0] = type;
  out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(ms)), 1);
  return out;
}

export const encodePing = (ms: bigint | number): Buffer => encodeStamp(FRAME_PING, ms);
export const encodePong = (ms: bigint | number): Buffer => encodeStamp(FRAME_PONG, ms);

/** A NORMAL body: op byte then JSON (`null` when there are no fields, as the Go library sends). */
export function encodeMessage(op: number, data: unknown): Buffer {
  const json = JSON.stringify(data ?? null);
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(json));
  out[0] = op;
  out.write(json, 1, 'utf8');
  return out;
}

export function decodeMessage(body: Buffer): { op: number; data: unknown } {
  if (body.length < 1) throw new SignalFrameError('bad_body', 'empty message body (no op byte)');
  const text = body.toString('utf8', 1);
  try {
    return { op: body[0], data: text.length ? JSON.parse(text) : null };
  } catch {
    throw new SignalFrameError('bad_body', `op 0x${body[0].toString(16)}: body is not JSON`);
  }
}

/** Next outgoing sequence number: starts at 1, wraps within u32 without reaching 0. */
export const nextSeq = (seq: number): number => (seq >= 0xffffffff ? 1 : seq + 1);

/**
 * Splits a byte stream into frames, whatever the chunking. Throws SignalFrameError on an unknown type byte or
 * an oversized NORMAL frame; after that the decoder stays failed (the caller closes the connection).
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private failed: SignalFrameError | undefined;

  push(chunk: Buffer): Frame[] {
    if (this.failed) throw this.failed;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    let off = 0;
    try {
      while (off < buf.length) {
        const left = buf.length - off;
        const type = buf[off];
        if (type === FRAME_NORMAL) {
          if (left < 9) break;
          // The length is checked as soon as it is readable, before waiting for the body.
          const len = buf.readUInt32BE(off + 5);
          if (len > MAX_BODY) throw new SignalFrameError('too_large', `frame of ${len} bytes exceeds ${MAX_BODY}`);
          if (left < 9 + len) break;
          frames.push({ type: 'normal', seq: buf.readUInt32BE(off + 1), body: buf.subarray(off + 9, off + 9 + len) });
          off += 9 + len;
        } else if (type === FRAME_ACK) {
          if (left < 5) break;
          frames.push({ type: 'ack', seq: buf.readUInt32BE(off + 1) });
          off += 5;
        } else if (type === FRAME_PING || type === FRAME_PONG) {
          if (left < 9) break;
          const ms = buf.readBigUInt64BE(off + 1);
          frames.push(type === FRAME_PING ? { type: 'ping', ms } : { type: 'pong', ms });
          off += 9;
        } else {
          throw new SignalFrameError('unknown_type', `unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
        }
      }
    } catch (err) {
      this.failed = err as SignalFrameError;
      this.pending = Buffer.alloc(0);
      throw err;
    }
    // Copy the tail so a small remainder does not pin a large chunk in memory.
    this.pending = off >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending.length;
  }
}
