// Packets carried by a transport (docs/design.md section 5): `type u8 | route_id u32 | len u16 | payload`,
// big-endian. Route id 0 is reserved for the transport itself (PING/PONG/RECEIPT/PUNCH between neighbours).

export const PacketType = {
  DATA: 0x00,
  CLOSE: 0x01,
  KEEPALIVE: 0x02,
  HANDSHAKE: 0x03,
  PING: 0x04,
  PONG: 0x05,
  ERROR: 0x06,
  /** Route id 0 only: a signed bandwidth receipt for the neighbour (src/node/metering/receipt.ts). */
  RECEIPT: 0x07,
  /** Route id 0 only, on a relayed transport: hole-punch coordination (src/node/punch-message.ts). */
  PUNCH: 0x08,
} as const;
const LAST_TYPE = PacketType.PUNCH;
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
  readonly payload: Buffer;
  /**
   * Set when the payload arrived split across chunks (a packet spanning two secure-channel messages): its
   * pieces in order. `payload` then joins them (one copy, on first use); a forwarder sends the pieces instead.
   */
  readonly parts?: Buffer[];
}

/** A packet whose payload is in pieces; joined only if someone asks for `payload`. */
class SplitPacket implements Packet {
  private joined: Buffer | undefined;

  constructor(
    readonly type: PacketTypeValue,
    readonly routeId: number,
    readonly parts: Buffer[],
    readonly length: number,
  ) {}

  get payload(): Buffer {
    return (this.joined ??= Buffer.concat(this.parts, this.length));
  }
}

/** Payload bytes of a packet, without joining a split payload. */
export function payloadLength(p: Packet): number {
  return p instanceof SplitPacket ? p.length : p.payload.length;
}

function writeHeader(buf: Buffer, type: PacketTypeValue, routeId: number, len: number): Buffer {
  buf[0] = type;
  buf.writeUInt32BE(routeId >>> 0, 1);
  buf.writeUInt16BE(len, 5);
  return buf;
}

/** The 7-byte header of a packet whose `len` payload bytes are written separately. */
export function encodeHeader(type: PacketTypeValue, routeId: number, len: number): Buffer {
  return writeHeader(Buffer.allocUnsafe(HEADER_BYTES), type, routeId, len);
}

export function encodePacket(type: PacketTypeValue, routeId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new Error(`packet payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const buf = writeHeader(Buffer.allocUnsafe(HEADER_BYTES + payload.length), type, routeId, payload.length);
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
 * cannot make it buffer more than one packet. Payloads are views of the chunks (no copy); a payload split
 * across chunks is returned as its pieces (see `Packet.parts`).
 */
export class PacketDecoder {
  readonly stats: DecoderStats = { packets: 0, malformed: 0, truncated: 0 };
  /** Header of a packet split across chunks, and how much of it arrived. */
  private readonly head = Buffer.alloc(HEADER_BYTES);
  private headFill = 0;
  /** Once that header is complete: the payload pieces so far, their length, and the payload length. */
  private inPayload = false;
  private parts: Buffer[] = [];
  private got = 0;
  private want = 0;

  push(chunk: Buffer): Packet[] {
    const out: Packet[] = [];
    let off = 0;
    const end = chunk.length;
    for (;;) {
      if (this.headFill === 0 && !this.inPayload) {
        // Whole packets inside this chunk: views, no copy.
        while (end - off >= HEADER_BYTES) {
          const type = chunk[off];
          const len = chunk.readUInt16BE(off + 5);
          if (type > LAST_TYPE || len > MAX_PAYLOAD) return this.malformed(out);
          if (end - off < HEADER_BYTES + len) break;
          out.push({
            type: type as PacketTypeValue,
            routeId: chunk.readUInt32BE(off + 1),
            payload: chunk.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len),
          });
          off += HEADER_BYTES + len;
        }
        if (off === end) break;
      }
      if (!this.inPayload) {
        // A header split across chunks (or the start of a packet that continues in the next chunk).
        const k = Math.min(HEADER_BYTES - this.headFill, end - off);
        chunk.copy(this.head, this.headFill, off, off + k);
        this.headFill += k;
        off += k;
        if (this.headFill < HEADER_BYTES) break;
        const len = this.head.readUInt16BE(5);
        if (this.head[0] > LAST_TYPE || len > MAX_PAYLOAD) return this.malformed(out);
        this.inPayload = true;
        this.want = len;
        this.got = 0;
        this.parts = [];
      }
      const k = Math.min(this.want - this.got, end - off);
      if (k > 0) {
        this.parts.push(chunk.subarray(off, off + k));
        this.got += k;
        off += k;
      }
      if (this.got < this.want) break;
      const type = this.head[0] as PacketTypeValue;
      const routeId = this.head.readUInt32BE(1);
      const parts = this.parts;
      out.push(
        parts.length === 1
          ? { type, routeId, payload: parts[0] }
          : parts.length === 0
            ? { type, routeId, payload: Buffer.alloc(0) }
            : new SplitPacket(type, routeId, parts, this.want),
      );
      this.reset();
      if (off === end) break;
    }
    this.stats.packets += out.length;
    return out;
  }

  private malformed(out: Packet[]): Packet[] {
    this.stats.malformed++;
    this.reset();
    this.stats.packets += out.length;
    return out;
  }

  private reset(): void {
    this.headFill = 0;
    this.inPayload = false;
    this.parts = [];
    this.got = 0;
    this.want = 0;
  }

  /** Call at end of stream: counts an incomplete trailing packet. */
  end(): void {
    const held = this.buffered;
    if (held) {
      this.stats.truncated += held;
      this.reset();
    }
  }

  /** Bytes of an incomplete packet held (header and payload so far). */
  get buffered(): number {
    return this.headFill + this.got;
  }
}
