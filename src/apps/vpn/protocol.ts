// The VPN's messages on its mesh stream: frames of `type u8 | length u16 (big-endian) | body`.
// A session starts with HELLO (client) answered by ASSIGN or ERROR (server); then both sides send PACKET
// frames, each exactly one IP packet, and KEEPALIVE frames so a dead route is noticed while idle.
import { FrameDecoder } from '../../net/framing.js';
import type { Offload } from './gso.js';

export const VPN_SERVICE = 'vpn';
/** The app port a vpn-server listens on at its node (44, as in Skywire's later releases). */
export const VPN_PORT = 44;
export const PROTOCOL_VERSION = 1;

export const enum FrameType {
  Hello = 0x01,
  Assign = 0x02,
  Error = 0x03,
  Packet = 0x10,
  Keepalive = 0x11,
  /** An IP packet with offload fields (gso.ts), only in a session both ends agreed to offload in. */
  OffloadPacket = 0x12,
}

export interface Hello {
  v: number;
  /** Largest IP packet the client can take. */
  mtu: number;
  /** The client takes and sends OFFLOAD_PACKET frames (absent: false; servers before it ignore the field). */
  offload: boolean;
}

export interface Assign {
  address: string;
  prefixLen: number;
  gateway: string;
  mtu: number;
  /** Both ends use OFFLOAD_PACKET frames in this session (absent: false). */
  offload: boolean;
}

export type VpnErrorCode = 'not_allowed' | 'pool_exhausted' | 'bad_hello' | 'version' | 'shutting_down';

export interface VpnErrorBody {
  code: VpnErrorCode;
  message: string;
}

export const HEADER_BYTES = 3;
export const MAX_BODY = 0xffff;

export function encodeFrame(type: FrameType, body: Buffer = Buffer.alloc(0)): Buffer {
  if (body.length > MAX_BODY) throw new Error(`frame body of ${body.length} bytes exceeds ${MAX_BODY}`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = type;
  out.writeUInt16BE(body.length, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

export const encodeJson = (type: FrameType, value: object): Buffer => encodeFrame(type, Buffer.from(JSON.stringify(value)));

/** OFFLOAD_PACKET body: `flags u8 (bit 0: checksum to complete) | gso_type u8 | gso_size u16 | packet`. */
export const OFFLOAD_BYTES = 4;
/** The largest packet one OFFLOAD_PACKET frame carries. */
export const MAX_OFFLOAD_PACKET = MAX_BODY - OFFLOAD_BYTES;

/**
 * Several packets as one buffer, so a batch read from the TUN device costs one socket write. A packet whose
 * `offloads` entry asks for a checksum or GSO goes as OFFLOAD_PACKET, the others as PACKET.
 */
export function encodePackets(packets: Buffer[], offloads?: Offload[]): Buffer {
  let size = 0;
  for (let i = 0; i < packets.length; i++) size += HEADER_BYTES + packets[i].length + (offloads?.[i].needsCsum ? OFFLOAD_BYTES : 0);
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i];
    const o = offloads?.[i];
    if (o?.needsCsum) {
      out[off] = FrameType.OffloadPacket;
      out.writeUInt16BE(p.length + OFFLOAD_BYTES, off + 1);
      out[off + 3] = 1;
      out[off + 4] = o.gsoType;
      out.writeUInt16BE(o.gsoSize, off + 5);
      off += OFFLOAD_BYTES;
    } else {
      out[off] = FrameType.Packet;
      out.writeUInt16BE(p.length, off + 1);
    }
    p.copy(out, off + HEADER_BYTES);
    off += HEADER_BYTES + p.length;
  }
  return out;
}

/** An OFFLOAD_PACKET body's fields and packet; null when it is too short or has unknown flags. */
export function parseOffloadBody(body: Buffer): { packet: Buffer; offload: Offload } | null {
  if (body.length < OFFLOAD_BYTES + 20 || body[0] !== 1) return null;
  return { packet: body.subarray(OFFLOAD_BYTES), offload: { needsCsum: true, gsoType: body[1], gsoSize: body.readUInt16BE(2) } };
}

export interface Frame {
  type: number;
  body: Buffer;
}

export function createFrameReader(): { push(chunk: Buffer): Frame[] } {
  const dec = new FrameDecoder({ lengthBytes: 2, headerBytes: 1, maxLength: MAX_BODY });
  return {
    push(chunk: Buffer): Frame[] {
      return dec.push(chunk).map((f) => ({ type: f[0], body: f.subarray(HEADER_BYTES) }));
    },
  };
}

/** Parses a JSON frame body; throws a one-line error naming the frame when it is not an object. */
function parseJsonObject(body: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`malformed ${what} frame: not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`malformed ${what} frame: not an object`);
  return v as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, what: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`malformed ${what} frame: "${key}" must be a whole number from ${min} to ${max}`);
  }
  return v;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !IPV4_RE.test(v)) throw new Error(`malformed ${what} frame: "${key}" must be an IPv4 address`);
  return v;
}

/** Checks a client's HELLO: `v` a whole number, `mtu` 576-65535 (each sent by every client of version 1). */
export function parseHello(body: Buffer): Hello {
  const o = parseJsonObject(body, 'HELLO');
  return { v: int(o, 'v', 'HELLO', 0, 0xffff), mtu: int(o, 'mtu', 'HELLO', 576, 65535), offload: flag(o, 'offload', 'HELLO') };
}

/** An optional boolean field (absent: false). */
function flag(o: Record<string, unknown>, key: string, what: string): boolean {
  const v = o[key] ?? false;
  if (typeof v !== 'boolean') throw new Error(`malformed ${what} frame: "${key}" must be true or false`);
  return v;
}

/** Checks the server's ASSIGN before any of it reaches `ip`. */
export function parseAssign(body: Buffer): Assign {
  const o = parseJsonObject(body, 'ASSIGN');
  return {
    address: ipv4(o, 'address', 'ASSIGN'),
    prefixLen: int(o, 'prefixLen', 'ASSIGN', 1, 30),
    gateway: ipv4(o, 'gateway', 'ASSIGN'),
    mtu: int(o, 'mtu', 'ASSIGN', 576, 65535),
    offload: flag(o, 'offload', 'ASSIGN'),
  };
}

/** Checks the server's ERROR; its message is shown to the user, so it is bounded and one line. */
export function parseErrorBody(body: Buffer): VpnErrorBody {
  const o = parseJsonObject(body, 'ERROR');
  if (typeof o.code !== 'string' || !/^[a-z_]{1,32}$/.test(o.code)) throw new Error('malformed ERROR frame: "code" must be a short word');
  if (typeof o.message !== 'string') throw new Error('malformed ERROR frame: "message" must be a string');
  return { code: o.code as VpnErrorCode, message: o.message.replace(/\p{Cc}+/gu, ' ').slice(0, 300) };
}
