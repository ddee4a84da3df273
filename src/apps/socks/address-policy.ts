// Which destinations the exit may connect to. Safe by default: loopback, private, link-local and other
// special-purpose ranges are refused unless an allowlist CIDR permits them. Checks are made on the
// RESOLVED address (bytes, not text), so "127.1", "::ffff:127.0.0.1" or a name pointing at 10.x are caught.
import { type Cidr, type IpBytes, cidrContains, formatIp, parseCidr as parseAny, parseIp } from '../../util/cidr.js';

export { type Cidr, type IpBytes, cidrContains, formatIp, parseIp };

/** An allow entry: a range, a bare address or one port of either ("127.0.0.1:7180", "10.0.0.0/8:80", "[::1]:7180"). */
export function parseCidr(text: string): Cidr {
  return parseAny(text, { port: true });
}

/** socks-server's --allow value: as parseCidr, with errors naming the flag. */
export function parseAllowOption(text: string): Cidr {
  return parseAny(text, { flag: '--allow', port: true });
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
