// IP addresses and CIDR ranges as users type them on the command line (socks-server --allow, vpn-server and
// vpn-client --subnet, vpn-client --exclude): one parser, so every flag accepts the same spellings and every
// error names the flag and the value. Addresses become bytes (4 for IPv4, 16 for IPv6), so "127.1" or a
// zone id never slip past a text comparison.
import { isIP } from 'node:net';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

export interface Cidr {
  /** The address as written (host bits kept unless `strict` refused them). */
  bytes: IpBytes;
  prefix: number;
  /** The trimmed input, for messages and listings. */
  text: string;
  /** When set, the rule covers only this destination port (an entry such as 127.0.0.1:7180). */
  port?: number;
}

export interface CidrRules {
  /** The flag the value came from, named first in every error ("--allow"). */
  flag?: string;
  /** Only this family (the VPN tunnels IPv4 only). */
  family?: 4 | 6;
  /** Accept ADDRESS[/PREFIX]:PORT and [V6[/PREFIX]]:PORT (default false). */
  port?: boolean;
  /** Accept a bare address as a /32 or /128 (default true). */
  bare?: boolean;
  /** Refuse host bits below the prefix, so a typo is not silently widened (default false). */
  strict?: boolean;
}

function parseV4(s: string): IpBytes | null {
  if (isIP(s) !== 4) return null;
  return Uint8Array.from(s.split('.').map(Number));
}

function parseV6(text: string): IpBytes | null {
  const s = text.replace(/%.*$/, ''); // a zone id ("fe80::1%eth0") does not change the range
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

/** `--flag "value"` (or `"value"` without a flag): how every message starts. */
const quoted = (text: string, flag?: string) => `${flag ? `${flag} ` : ''}"${text}"`;

/** Parses one address, as `parseIp`, but throws a one-line error naming the flag and the value. */
export function parseIpAddress(text: string, flag?: string, family?: 4 | 6): IpBytes {
  const ip = parseIp(text.trim());
  const want = family === 4 ? 'an IPv4 address' : family === 6 ? 'an IPv6 address' : 'an IP address';
  if (!ip || (family && ip.length !== (family === 4 ? 4 : 16))) throw new Error(`${quoted(text, flag)} is not ${want}`);
  return ip;
}

/** The range's first address: `bytes` with the bits below `prefix` cleared. */
export function networkOf(c: Pick<Cidr, 'bytes' | 'prefix'>): IpBytes {
  const out = Uint8Array.from(c.bytes);
  for (let bit = c.prefix; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

function example(o: CidrRules): string {
  const list = [o.family !== 6 ? '10.0.0.0/8' : undefined, o.family !== 4 ? 'fd00::/8' : undefined, o.port ? '127.0.0.1:7180' : undefined];
  const words = list.filter((x) => x !== undefined);
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0]!;
}

/**
 * Parses "10.0.0.0/8", "fd00::/8", a bare address (a /32 or /128) and, with `port`, one port of a range:
 * "127.0.0.1:7180", "10.0.0.0/8:80", "[::1]:7180". Throws a one-line error naming `flag` and the value.
 */
export function parseCidr(text: string, o: CidrRules = {}): Cidr {
  const t = text.trim();
  const what = quoted(text, o.flag);
  const withPort = o.port ? (/^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t)) : null;
  const range = withPort ? withPort[1] : t;
  let port: number | undefined;
  if (withPort?.[2] !== undefined) {
    port = Number(withPort[2]);
    if (port < 1 || port > 65535) throw new Error(`${what}: port must be 1-65535`);
  }
  const [addr, prefixText, extra] = range.split('/');
  const bytes = parseIp(addr ?? '');
  if (!bytes || extra !== undefined) throw new Error(`${what} is not a CIDR such as ${example(o)}`);
  if (o.family && bytes.length !== (o.family === 4 ? 4 : 16)) throw new Error(`${what} is not an IPv${o.family} range (such as ${example(o)})`);
  if (prefixText === undefined && o.bare === false) throw new Error(`${what} needs a /PREFIX, e.g. ${example(o)}`);
  const max = bytes.length * 8;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) throw new Error(`${what}: prefix must be 0-${max}`);
  const c: Cidr = { bytes, prefix, text: t, ...(port !== undefined ? { port } : {}) };
  if (o.strict) {
    const net = networkOf(c);
    if (net.some((b, i) => b !== bytes[i])) throw new Error(`${what} has host bits set; did you mean ${formatIp(net)}/${prefix}?`);
  }
  return c;
}

export function cidrContains(c: Pick<Cidr, 'bytes' | 'prefix'>, ip: IpBytes): boolean {
  if (c.bytes.length !== ip.length) return false;
  const full = c.prefix >> 3;
  for (let i = 0; i < full; i++) if (c.bytes[i] !== ip[i]) return false;
  const rest = c.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (c.bytes[full] & mask) === (ip[full] & mask);
}
