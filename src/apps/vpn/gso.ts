// The TUN offload path (docs/vpn.md, "Offload"): with IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands the VPN
// TCP segments of up to 64 KB (GSO) and packets whose TCP/UDP checksum is still to be done, each behind a
// virtio_net_hdr, and takes the same on write. The VPN carries only what the far end needs to rebuild that
// header (a checksum flag, the GSO type and the segment size) and rebuilds it from the packet itself, so a
// peer never chooses the header's offsets. For a peer without offload (or a packet too large for one frame)
// the packet is segmented here, in software, with complete checksums.
import { dstOf, srcOf } from './ipv4.js';

export const VNET_HDR_LEN = 10;
/** virtio_net_hdr flags and GSO types (linux/virtio_net.h). */
const F_NEEDS_CSUM = 1;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_ECN = 0x80;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

/** What travels with an offloaded packet: the far end rebuilds its virtio_net_hdr from this and the packet. */
export interface Offload {
  /** The TCP/UDP checksum holds only the pseudo-header sum; the receiving kernel completes it. */
  needsCsum: boolean;
  gsoType: number;
  /** Payload bytes per segment (the MSS); 0 when not GSO. */
  gsoSize: number;
}

export const NO_OFFLOAD: Offload = { needsCsum: false, gsoType: GSO_NONE, gsoSize: 0 };

/** The offload fields of a virtio_net_hdr read from the device (little-endian, as the kernel writes it). */
export function parseVnetHdr(h: Buffer): Offload {
  // DATA_VALID (2) is not carried: the far end's kernel checks what it is given.
  return { needsCsum: (h[0] & F_NEEDS_CSUM) !== 0, gsoType: h[1], gsoSize: h.readUInt16LE(4) };
}

const ihl = (p: Buffer) => (p[0] & 0x0f) * 4;
const l4Csum = (proto: number) => (proto === PROTO_TCP ? 16 : 6);

/** Bytes of IP and TCP header before a TCP segment's payload (the packet is checked to hold them). */
function tcpHeaderLen(p: Buffer): number {
  return ihl(p) + (p[ihl(p) + 12] >> 4) * 4;
}

/**
 * Whether a peer's offload fields fit the packet (already checked as whole IPv4): the GSO type is TCPv4
 * (optionally ECN) on a TCP packet with a whole TCP header, each segment fits `mtu`; a checksum to complete
 * belongs to a whole TCP or UDP header. Returns the problem's name, or undefined.
 */
export function checkOffload(p: Buffer, o: Offload, mtu: number): string | undefined {
  const proto = p[9];
  const h = ihl(p);
  const fragmented = (p.readUInt16BE(6) & 0x3fff) !== 0;
  if (o.needsCsum) {
    if (fragmented || (proto !== PROTO_TCP && proto !== PROTO_UDP)) return 'bad_offload';
    if (p.length < h + (proto === PROTO_TCP ? 20 : 8)) return 'bad_offload';
  }
  if (o.gsoType === GSO_NONE) return o.gsoSize === 0 ? undefined : 'bad_offload';
  if ((o.gsoType & ~GSO_ECN) !== GSO_TCPV4 || proto !== PROTO_TCP || fragmented || !o.needsCsum) return 'bad_offload';
  const doff = (p[h + 12] >> 4) * 4;
  if (doff < 20 || p.length < h + doff) return 'bad_offload';
  if (o.gsoSize < 1) return 'bad_offload';
  if (h + doff + o.gsoSize > mtu) return 'too_big';
  return undefined;
}

/** The virtio_net_hdr for writing `p` with `o` to the device; offsets come from the packet, not the peer. */
export function buildVnetHdr(p: Buffer, o: Offload): Buffer {
  const out = Buffer.alloc(VNET_HDR_LEN);
  if (!o.needsCsum) return out;
  const h = ihl(p);
  out[0] = F_NEEDS_CSUM;
  out[1] = o.gsoType;
  out.writeUInt16LE(o.gsoType === GSO_NONE ? 0 : tcpHeaderLen(p), 2);
  out.writeUInt16LE(o.gsoType === GSO_NONE ? 0 : o.gsoSize, 4);
  out.writeUInt16LE(h, 6);
  out.writeUInt16LE(l4Csum(p[9]), 8);
  return out;
}

/** The 16-bit ones' complement sum of `b[start, end)` added to `sum` (not folded, not inverted). */
function sum16(b: Buffer, start: number, end: number, sum: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

const fold = (s: number) => {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
};

/** The pseudo-header sum for a TCP/UDP payload of `len` bytes (folded, not inverted). */
function pseudo(p: Buffer, len: number): number {
  const s = srcOf(p) >>> 0;
  const d = dstOf(p) >>> 0;
  return fold((s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + p[9] + len);
}

function ipChecksum(p: Buffer): void {
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(~fold(sum16(p, 0, ihl(p), 0)) & 0xffff, 10);
}

/** Completes the TCP/UDP checksum of a packet whose checksum field holds the pseudo-header sum (in place). */
export function completeChecksum(p: Buffer): void {
  const h = ihl(p);
  const at = h + l4Csum(p[9]);
  p.writeUInt16BE(pseudo(p, p.length - h), at);
  let c = ~fold(sum16(p, h, p.length, 0)) & 0xffff;
  if (c === 0 && p[9] === PROTO_UDP) c = 0xffff;
  p.writeUInt16BE(c, at);
}

/**
 * Cuts a GSO packet into packets of at most `segments` segments each (new buffers): IP length, id and
 * checksum, TCP sequence number and flags (FIN/PSH only on the last, CWR only on the first) set as a NIC
 * would. Pieces of one segment get complete checksums and no offload; larger pieces stay GSO with the
 * pseudo-header sum for their own length.
 */
export function segment(p: Buffer, o: Offload, segments: number): Array<{ packet: Buffer; offload: Offload }> {
  const hl = tcpHeaderLen(p);
  const h = ihl(p);
  const step = o.gsoSize * segments;
  const payload = p.length - hl;
  const out: Array<{ packet: Buffer; offload: Offload }> = [];
  const id = p.readUInt16BE(4);
  const seq = p.readUInt32BE(h + 4);
  for (let off = 0, i = 0; off < payload; off += step, i++) {
    const len = Math.min(step, payload - off);
    const q = Buffer.allocUnsafe(hl + len);
    p.copy(q, 0, 0, hl);
    p.copy(q, hl, hl + off, hl + off + len);
    q.writeUInt16BE(hl + len, 2);
    q.writeUInt16BE((id + i * segments) & 0xffff, 4);
    ipChecksum(q);
    q.writeUInt32BE((seq + off) >>> 0, h + 4);
    if (off + len < payload) q[h + 13] &= ~0x09; // FIN, PSH: last piece only
    if (off > 0) q[h + 13] &= ~0x80; // CWR: first piece only
    const single = len <= o.gsoSize;
    if (single) {
      completeChecksum(q);
      out.push({ packet: q, offload: NO_OFFLOAD });
    } else {
      q.writeUInt16BE(pseudo(q, q.length - h), h + 16);
      out.push({ packet: q, offload: o });
    }
  }
  return out;
}

/**
 * What to send a peer for one packet read from an offload device: as it is when the peer takes offloads and it
 * fits `maxPacket`; else cut into pieces (each fitting) or, for a peer without offload, into single segments with
 * complete checksums.
 */
export function forPeer(p: Buffer, o: Offload, peerOffload: boolean, maxPacket: number): Array<{ packet: Buffer; offload: Offload }> {
  if (o.gsoType !== GSO_NONE && o.gsoSize > 0) {
    if (peerOffload && p.length <= maxPacket) return [{ packet: p, offload: o }];
    const per = peerOffload ? Math.max(1, Math.floor((maxPacket - tcpHeaderLen(p)) / o.gsoSize)) : 1;
    return segment(p, o, per);
  }
  if (o.needsCsum && !peerOffload) {
    const q = Buffer.from(p);
    completeChecksum(q);
    return [{ packet: q, offload: NO_OFFLOAD }];
  }
  return [{ packet: p, offload: o }];
}

/** The size of the largest IP packet `p` becomes on the wire: one segment of a GSO packet, else the packet. */
export function largestSegment(p: Buffer, o: Offload | undefined): number {
  return o && o.gsoType !== GSO_NONE && o.gsoSize > 0 ? Math.min(p.length, tcpHeaderLen(p) + o.gsoSize) : p.length;
}

/**
 * The device's largest GSO packet: one packet in one OFFLOAD_PACKET frame, and that frame with the end-to-end
 * channel's overhead in one route packet (65528 bytes of payload), so a segment is never cut across two.
 */
export const GSO_MAX_SIZE = 62_000;

/** Writes a packet that arrived with `o` to a device that may lack offloads (then segmented/checksummed here). */
export function writeToDevice(tun: { offload: boolean; write(p: Buffer, o?: Offload): boolean }, p: Buffer, o: Offload | undefined): boolean {
  if (tun.offload || !o?.needsCsum) return tun.write(p, o);
  let ok = true;
  for (const piece of forPeer(p, o, false, 0)) ok = tun.write(piece.packet) && ok;
  return ok;
}
