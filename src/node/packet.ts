// Packets carried by a transport (DESIGN.md section 5): `type u8 | route_id u32 | len u16 | payload`,
// big-endian. Route id 0 is reserved for the transport itself (PING/PONG/KEEPALIVE between neighbours).

export const PacketType = {
  DATA: 0x00,
  CLOSE: 0x01,
  KEEPALIVE: 0x02,
  HANDSHAKE: 0x03,
  PING: 0x04,
  PONG: 0x05,
  ERROR: 0x06,
} as const;
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];

export const PACKET_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PacketType).map(([k, v]) => [v, k]),
);

export const HEADER_BYTES = 7;
/** A packet fits one secure-channel message (65535 bytes), so the payload is at most 65528 bytes. */
export const MAX_PAYLOAD = 65535 - HEADER_BYTES;
export const TRANSPORT_ROUTE_ID = 0;

export interface Packet {
  type: PacketTypeValue;
  routeId: number;
  payload: Buffer;
}

export function encodePacket(type: PacketTypeValue, routeId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new Error(`packet payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  buf[0] = type;
  buf.writeUInt32BE(routeId >>> 0, 1);
  buf.writeUInt16BE(payload.length, 5);
  payload.copy(buf, HEADER_BYTES);
  return buf;
}

export interface DecoderStats {
  packets: number;
  /** Headers with an unknown type or a length above MAX_PAYLOAD: the rest of that chunk is discarded. */
  malformed: number;
  /** Bytes left over when the stream ended mid-packet. */
  truncated: number;
}

/**
 * Streaming decoder: accepts chunks of any size, returns whole packets. It never trusts a header: an
 * unknown type or an oversized length is counted and the buffered bytes are dropped, so a lying peer
 * cannot make it buffer more than one packet.
 */
export class PacketDecoder {
  readonly stats: DecoderStats = { packets: 0, malformed: 0, truncated: 0 };
  private pending: Buffer | null = null;

  push(chunk: Buffer): Packet[] {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    const out: Packet[] = [];
    let off = 0;
    while (buf.length - off >= HEADER_BYTES) {
      const type = buf[off];
      const len = buf.readUInt16BE(off + 5);
      if (type > PacketType.ERROR || len > MAX_PAYLOAD) {
        this.stats.malformed++;
        return out;
      }
      if (buf.length - off < HEADER_BYTES + len) break;
      out.push({
        type: type as PacketTypeValue,
        routeId: buf.readUInt32BE(off + 1),
        payload: buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len),
      });
      off += HEADER_BYTES + len;
    }
    this.stats.packets += out.length;
    if (off < buf.length) {
      // Copy so a small remainder does not pin a large chunk in memory.
      buf = buf.subarray(off);
      this.pending = Buffer.from(buf);
    }
    return out;
  }

  /** Call at end of stream: counts an incomplete trailing packet. */
  end(): void {
    if (this.pending) {
      this.stats.truncated += this.pending.length;
      this.pending = null;
    }
  }

  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}
