// The header on each mesh stream between socks-client and socks-server (docs/socks.md):
//   request (client -> server): VER=1 | ATYP | ADDR | PORT u16
//   reply   (server -> client): VER=1 | STATUS | ATYP | ADDR | PORT u16   (the exit's bound address)
// ATYP/ADDR are encoded as in SOCKS5 (1: 4 bytes, 3: length byte + name, 4: 16 bytes) and STATUS is the
// SOCKS5 reply code itself, so the client forwards it unchanged. Everything after the reply is payload.
import { formatIp, parseIp } from './address-policy.js';

export const HEADER_VERSION = 1;

export const ATYP_IPV4 = 1;
export const ATYP_DOMAIN = 3;
export const ATYP_IPV6 = 4;

/** SOCKS5 reply codes (RFC 1928 section 6). */
export const Rep = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;
export type RepCode = (typeof Rep)[keyof typeof Rep];

export const REP_TEXT: Record<number, string> = {
  0x00: 'succeeded',
  0x01: 'general failure',
  0x02: 'not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired / timeout',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};

export interface Target {
  /** IP literal (for ATYP 1/4) or domain name (ATYP 3). */
  host: string;
  port: number;
  atyp: typeof ATYP_IPV4 | typeof ATYP_DOMAIN | typeof ATYP_IPV6;
}

/** DNS limits: 253 characters, labels of 1-63 letters, digits, '-' or '_'. */
export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name
    .replace(/\.$/, '')
    .split('.')
    .every((l) => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9_-]+$/.test(l));
}

/** ATYP + ADDR + PORT, as in SOCKS5. */
export function encodeAddress(t: Target): Buffer {
  let addr: Buffer;
  if (t.atyp === ATYP_DOMAIN) {
    const name = Buffer.from(t.host, 'utf8');
    if (name.length > 255) throw new Error('domain name longer than 255 bytes');
    addr = Buffer.concat([Buffer.from([name.length]), name]);
  } else {
    const ip = parseIp(t.host);
    if (!ip || ip.length !== (t.atyp === ATYP_IPV4 ? 4 : 16)) throw new Error(`"${t.host}" does not match its address type`);
    addr = Buffer.from(ip);
  }
  const port = Buffer.alloc(2);
  port.writeUInt16BE(t.port);
  return Buffer.concat([Buffer.from([t.atyp]), addr, port]);
}

export function encodeRequest(t: Target): Buffer {
  return Buffer.concat([Buffer.from([HEADER_VERSION]), encodeAddress(t)]);
}

export function encodeReply(status: number, bound?: Target): Buffer {
  const b = bound ?? { host: '0.0.0.0', port: 0, atyp: ATYP_IPV4 };
  return Buffer.concat([Buffer.from([HEADER_VERSION, status]), encodeAddress(b)]);
}

/** Something that hands out exact byte counts from a stream (see ByteReader). */
export interface ExactReader {
  read(n: number): Promise<Buffer>;
}

/** Thrown for a well-formed read of an address type this protocol does not know. */
export class BadAddressTypeError extends Error {
  constructor(readonly atyp: number) {
    super(`address type ${atyp} not supported`);
  }
}

/** Reads ATYP + ADDR + PORT. Throws BadAddressTypeError for an unknown ATYP. */
export async function readAddress(r: ExactReader): Promise<Target> {
  const [atyp] = await r.read(1);
  let host: string;
  if (atyp === ATYP_IPV4) host = formatIp(await r.read(4));
  else if (atyp === ATYP_IPV6) host = formatIp(await r.read(16));
  else if (atyp === ATYP_DOMAIN) {
    const [len] = await r.read(1);
    host = len ? (await r.read(len)).toString('utf8') : '';
  } else throw new BadAddressTypeError(atyp);
  const port = (await r.read(2)).readUInt16BE(0);
  return { host, port, atyp };
}

export async function readRequest(r: ExactReader): Promise<Target> {
  const [ver] = await r.read(1);
  if (ver !== HEADER_VERSION) throw new Error(`unknown stream header version ${ver}`);
  return readAddress(r);
}

export async function readReply(r: ExactReader): Promise<{ status: number; bound: Target }> {
  const [ver, status] = await r.read(2);
  if (ver !== HEADER_VERSION) throw new Error(`unknown stream header version ${ver}`);
  return { status, bound: await readAddress(r) };
}
