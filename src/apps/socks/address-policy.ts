// Which destinations the exit may connect to. Safe by default: loopback, private, link-local and other
// special-purpose ranges are refused unless an allowlist CIDR permits them. Checks are made on the
// RESOLVED address (bytes, not text), so "127.1", "::ffff:127.0.0.1" or a name pointing at 10.x are caught.
import { isIP } from 'node:net';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

export interface Cidr {
  bytes: IpBytes;
  prefix: number;
  text: string;
  /** When set, the rule covers only this destination port (an allowlist entry such as 127.0.0.1:7180). */
  port?: number;
}

function parseV4(s: string): IpBytes | null {
  if (isIP(s) !== 4) return null;
  return Uint8Array.from(s.split('.').map(Number));
}

function parseV6(text: string): IpBytes | null {
  const s = text.replace(/%.*$/, ''); // zone id ("fe80::1%eth0") does not change the range
  if (isIP(s) !== 6) return null;
  let head = s;
  let tailV4: IpBytes | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (!tailV4) return null;
    head = s.slice(0, lastColon + 1) + '0:0'; // stand-in groups, replaced below
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (p: string | undefined) => (p ? p.split(':').filter((g) => g !== '') : []);
  const l = groups(left);
  const r = groups(right);
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  const all = [...l, ...Array<string>(fill).fill('0'), ...r];
  if (all.length !== 8) return null;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 literal to bytes, or null when it is not one. */
export function parseIp(s: string): IpBytes | null {
  return parseV4(s) ?? parseV6(s);
}

export function formatIp(b: IpBytes): string {
  if (b.length === 4) return Array.from(b).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128), optionally narrowed to one port:
 * "127.0.0.1:7180", "10.0.0.0/8:80", "[::1]:7180". Throws a one-line error.
 */
export function parseCidr(text: string): Cidr {
  const t = text.trim();
  const withPort = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t);
  const range = withPort ? withPort[1] : t;
  let port: number | undefined;
  if (withPort?.[2] !== undefined) {
    port = Number(withPort[2]);
    if (port < 1 || port > 65535) throw new Error(`"${text}": port must be 1-65535`);
  }
  const [addr, prefixText, extra] = range.split('/');
  const bytes = parseIp(addr ?? '');
  if (!bytes || extra !== undefined) throw new Error(`"${text}" is not a CIDR such as 10.0.0.0/8, fd00::/8 or 127.0.0.1:7180`);
  const max = bytes.length * 8;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) {
    throw new Error(`"${text}": prefix must be 0-${max}`);
  }
  return { bytes, prefix, text: t, ...(port !== undefined ? { port } : {}) };
}

export function cidrContains(c: Cidr, ip: IpBytes): boolean {
  if (c.bytes.length !== ip.length) return false;
  const full = c.prefix >> 3;
  for (let i = 0; i < full; i++) if (c.bytes[i] !== ip[i]) return false;
  const rest = c.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (c.bytes[full] & mask) === (ip[full] & mask);
}

/**
 * The IPv4 address an IPv6 address stands for, if it embeds one that the stack would reach:
 * v4-mapped (::ffff:a.b.c.d), v4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d).
 */
export function embeddedV4(ip: IpBytes): IpBytes | null {
  if (ip.length !== 16) return null;
  const zeros = (from: number, to: number) => ip.subarray(from, to).every((b) => b === 0);
  const mapped = zeros(0, 10) && ip[10] === 0xff && ip[11] === 0xff;
  const compatible = zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && ip[15] === 1); // not :: or ::1
  const nat64 = ip[0] === 0x00 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b && zeros(4, 12);
  return mapped || compatible || nat64 ? ip.slice(12, 16) : null;
}

/** Special-purpose ranges (RFC 6890 and friends) that an internet exit must not reach by default. */
export const BLOCKED_RANGES: readonly Cidr[] = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8',
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8',
  '169.254.0.0/16', // link-local (cloud metadata lives here)
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15', // benchmarking
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved and broadcast
  '::/128',
  '::1/128',
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // old site-local
  'ff00::/8', // multicast
].map(parseCidr);

export class AddressPolicy {
  constructor(private readonly allow: readonly Cidr[] = []) {}

  /** Why `address` (at `port`, for allow rules that name one) is refused, or null when the exit may connect to it. */
  refusal(address: string, port?: number): string | null {
    const ip = parseIp(address);
    if (!ip) return `"${address}" is not an IP address`;
    // An address counts as what it reaches: a v4-mapped v6 address is judged as the IPv4 it embeds.
    const candidates = [ip, embeddedV4(ip)].filter((x): x is IpBytes => x !== null);
    const permits = (a: Cidr, c: IpBytes) => cidrContains(a, c) && (a.port === undefined || a.port === port);
    if (candidates.some((c) => this.allow.some((a) => permits(a, c)))) return null;
    for (const c of candidates) {
      const hit = BLOCKED_RANGES.find((r) => cidrContains(r, c));
      if (hit) return `${formatIp(c)}${port !== undefined ? ` port ${port}` : ''} is in ${hit.text}, which is not allowed (permit it with --allow)`;
    }
    return null;
  }
}
