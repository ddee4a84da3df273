// IPv4 helpers for the tunnel: addresses and subnets as numbers, packet validation, and the ICMP
// "fragmentation needed" reply. Only what the VPN needs; IPv6 is not tunnelled yet.
import { parseCidr as parseAnyCidr } from '../../util/cidr.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefixLen: number;
}

export function ipToInt(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`"${text}" is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/**
 * Parses a subnet such as "10.0.0.0/24" with the CLI's one CIDR parser (src/util/cidr.ts): IPv4, a /PREFIX,
 * host bits zero (so a typo is not silently widened); errors name `flag` and the value.
 */
export function parseCidr(text: string, flag?: string): Cidr {
  const c = parseAnyCidr(text, { flag, family: 4, bare: false, strict: true });
  return { network: ((c.bytes[0] << 24) | (c.bytes[1] << 16) | (c.bytes[2] << 8) | c.bytes[3]) >>> 0, prefixLen: c.prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefixLen}`;
}

export function inCidr(addr: number, c: Cidr): boolean {
  return ((addr & maskOf(c.prefixLen)) >>> 0) === c.network;
}

export const IPV4_HEADER_MIN = 20;

/** Why a packet from the tunnel or the TUN device was not forwarded (the counters use these names). */
export type PacketProblem = 'truncated' | 'not_ipv4' | 'bad_header_length' | 'bad_total_length' | 'bad_checksum';

/**
 * Checks that `pkt` is one whole, well-formed IPv4 packet: version 4, header length within the packet,
 * total length equal to the bytes received, valid header checksum. Returns the problem, or undefined when fine.
 */
export function checkIpv4(pkt: Buffer): PacketProblem | undefined {
  if (pkt.length < IPV4_HEADER_MIN) return 'truncated';
  if (pkt[0] >> 4 !== 4) return 'not_ipv4';
  const ihl = (pkt[0] & 0x0f) * 4;
  if (ihl < IPV4_HEADER_MIN || ihl > pkt.length) return 'bad_header_length';
  const total = pkt.readUInt16BE(2);
  if (total !== pkt.length) return 'bad_total_length';
  if (checksum(pkt, 0, ihl) !== 0) return 'bad_checksum';
  return undefined;
}

export const srcOf = (pkt: Buffer): number => pkt.readUInt32BE(12);
export const dstOf = (pkt: Buffer): number => pkt.readUInt32BE(16);
export const dontFragment = (pkt: Buffer): boolean => (pkt[6] & 0x40) !== 0;

/** The Internet checksum (RFC 1071) of buf[start, end); 0 when a header's own checksum is right. */
export function checksum(buf: Buffer, start = 0, end = buf.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += buf.readUInt16BE(i);
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * ICMP destination unreachable, "fragmentation needed and DF set" (type 3 code 4, RFC 1191), sent from
 * `from` back to the source of `original`, carrying `nextHopMtu` and the original header + 8 bytes,
 * so the sender lowers its path MTU instead of having its packets vanish.
 */
export function buildFragNeeded(original: Buffer, from: number, nextHopMtu: number): Buffer {
  const ihl = (original[0] & 0x0f) * 4;
  const quoted = original.subarray(0, Math.min(original.length, ihl + 8));
  const icmpLen = 8 + quoted.length;
  const out = Buffer.alloc(20 + icmpLen);
  out[0] = 0x45;
  out.writeUInt16BE(out.length, 2);
  out.writeUInt16BE(0x4000, 6); // DF: the reply itself must not be fragmented either
  out[8] = 64; // TTL
  out[9] = 1; // ICMP
  out.writeUInt32BE(from >>> 0, 12);
  out.writeUInt32BE(srcOf(original), 16);
  out.writeUInt16BE(checksum(out, 0, 20), 10);
  out[20] = 3; // destination unreachable
  out[21] = 4; // fragmentation needed
  out.writeUInt16BE(nextHopMtu, 26);
  quoted.copy(out, 28);
  out.writeUInt16BE(checksum(out, 20, out.length), 22);
  return out;
}

export const isIcmp = (pkt: Buffer): boolean => pkt[9] === 1;
/** True for an ICMP error message; we never answer one with another ICMP error (RFC 1122). */
export function isIcmpError(pkt: Buffer): boolean {
  if (!isIcmp(pkt)) return false;
  const ihl = (pkt[0] & 0x0f) * 4;
  const type = pkt[ihl];
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}
