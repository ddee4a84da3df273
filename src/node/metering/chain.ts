// Hash-chain links (docs/metering.md, Cadence): one signature a second per route instead of one per MiB. With a
// receipt the signer commits to tip = x0 of a chain x_links -> ... -> x1 -> x0, where x_{i-1} = SHA-256(x_i) and
// x_links is random. Revealing x_i later proves "bytes + i * step received" (the receipt's numbers), as binding
// as a signature: nobody but the signer knows a preimage of the tip (the micropayment chain of PayWord). A link
// costs the signer a lookup and the checker i - j hashes from the last link j it holds (one per MiB).
//
// A LINK packet (RECEIPT type on route id 0, 48 bytes, big-endian):
//   magic "SWL1" (4) | route id u32 | receipt seq u32 | index u32 | x_index (32)
import { hash, randomBytes } from 'node:crypto';

export const LINK_MAGIC = Buffer.from('SWL1', 'latin1');
export const LINK_BYTES = 4 + 4 + 4 + 4 + 32;

export interface Link {
  routeId: number;
  seq: number;
  index: number;
  value: Buffer;
}

// One-shot: no Hash object per link (a chain is up to 256 of them a second per route).
const sha256 = (b: Buffer): Buffer => hash('sha256', b, 'buffer');

/** A fresh chain of `links` links: x_i at i * 32 (x_0 is the tip). */
export function makeChain(links: number): Buffer {
  const chain = Buffer.allocUnsafe((links + 1) * 32);
  randomBytes(32).copy(chain, links * 32);
  for (let i = links; i > 0; i--) sha256(chain.subarray(i * 32, i * 32 + 32)).copy(chain, (i - 1) * 32);
  return chain;
}

export const chainValue = (chain: Buffer, i: number): Buffer => chain.subarray(i * 32, i * 32 + 32);

/** True when hashing `value` `times` times gives `target`. */
export function hashesTo(value: Buffer, times: number, target: Buffer): boolean {
  let x = value;
  for (let i = 0; i < times; i++) x = sha256(x);
  return x.equals(target);
}

export function encodeLink(l: Link): Buffer {
  const b = Buffer.allocUnsafe(LINK_BYTES);
  LINK_MAGIC.copy(b, 0);
  b.writeUInt32BE(l.routeId, 4);
  b.writeUInt32BE(l.seq, 8);
  b.writeUInt32BE(l.index, 12);
  l.value.copy(b, 16);
  return b;
}

/** A link packet's fields, or undefined when it is not one. */
export function decodeLink(b: Buffer): Link | undefined {
  if (b.length !== LINK_BYTES || !b.subarray(0, 4).equals(LINK_MAGIC)) return undefined;
  return { routeId: b.readUInt32BE(4), seq: b.readUInt32BE(8), index: b.readUInt32BE(12), value: Buffer.from(b.subarray(16)) };
}

/** "INDEX:HEX", as statements and the ledger carry a link. */
export const linkText = (index: number, value: Buffer) => `${index}:${value.toString('hex')}`;

export function parseLinkText(s: string): { index: number; value: Buffer } | undefined {
  const m = /^(\d{1,10}):([0-9a-f]{64})$/.exec(s);
  if (!m) return undefined;
  const index = Number(m[1]);
  return index >= 1 && index <= 0xffffffff ? { index, value: Buffer.from(m[2], 'hex') } : undefined;
}
