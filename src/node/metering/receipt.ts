// A bandwidth receipt (docs/metering.md, Receipt format): the node that received packets from a neighbour on a
// route signs what it received so far, and commits to a hash chain that lets it prove each further `step` bytes
// without another signature (a link: chain.ts). Fixed layout, big-endian, 142 bytes of message + 64 of signature:
//
//   magic "SWR2" (4) | signer pk (33) | payee pk (33) | route id u32 | bytes u64 | packets u64 | seq u32 | time ms u64
//   | step u32 | links u32 | chain tip (32) | sig (64)
//
// sig = ECDSA secp256k1 over SHA-256(the 142-byte message), r||s with low s (as Bitcoin and @noble/curves expect).
// Counts are cumulative since the route id was installed at the signer, so a lost receipt costs nothing and an
// older one proves less than a newer one. Signing runs on node's OpenSSL (it is on the data path of every
// node); verification offline runs on libsecp256k1 (verify-libsecp.ts, verify-pool.ts), cross-checked by OpenSSL
// and @noble/curves in the tests, with the same low-s rule, so all three accept exactly the same signatures.
import { createHash, createPrivateKey, createPublicKey, sign as osslSign, verify as osslVerify, type KeyObject } from 'node:crypto';
import type { KeyPair } from '../../net/keys.js';
import { CURVE_ORDER, noble, uncompressedPoint } from '../../net/secp256k1.js';

export const RECEIPT_MAGIC = Buffer.from('SWR2', 'latin1');
export const RECEIPT_MESSAGE_BYTES = 4 + 33 + 33 + 4 + 8 + 8 + 4 + 8 + 4 + 4 + 32;
const NO_TIP = Buffer.alloc(32);
export const RECEIPT_BYTES = RECEIPT_MESSAGE_BYTES + 64;

export interface ReceiptFields {
  /** The node that received the packets and signs (hex, compressed). */
  signer: string;
  /** The neighbour that sent them: the one the receipt pays (hex). */
  payee: string;
  /** The route id the packets carried when they reached the signer. */
  routeId: number;
  /** Payload bytes and packets received on that route id, cumulative. */
  bytes: number;
  packets: number;
  /** Counts up by one per receipt for this route id (0 first). */
  seq: number;
  /** Signer's clock, ms since 1970. */
  timeMs: number;
  /**
   * The hash chain (chain.ts): link i (1..links), a value whose i-th SHA-256 is `tip`, proves bytes + i * step.
   * Absent: no chain (links 0).
   */
  chain?: { step: number; links: number; tip: string };
}

export interface Receipt extends ReceiptFields {
  /** The whole encoded receipt (message and signature). */
  raw: Buffer;
}

export class ReceiptError extends Error {}

const N = CURVE_ORDER;
const HALF_N = N >> 1n;

function u64(buf: Buffer, off: number, v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new ReceiptError(`${name} must be a non-negative safe integer`);
  buf.writeBigUInt64BE(BigInt(v), off);
}

/** The 102-byte message a receipt signs. */
export function encodeReceiptMessage(f: ReceiptFields): Buffer {
  const b = Buffer.allocUnsafe(RECEIPT_MESSAGE_BYTES);
  RECEIPT_MAGIC.copy(b, 0);
  const signer = Buffer.from(f.signer, 'hex');
  const payee = Buffer.from(f.payee, 'hex');
  if (signer.length !== 33 || payee.length !== 33) throw new ReceiptError('signer and payee must be 33-byte public keys');
  signer.copy(b, 4);
  payee.copy(b, 37);
  if (!Number.isInteger(f.routeId) || f.routeId < 0 || f.routeId > 0xffffffff) throw new ReceiptError('routeId must be a u32');
  b.writeUInt32BE(f.routeId, 70);
  u64(b, 74, f.bytes, 'bytes');
  u64(b, 82, f.packets, 'packets');
  if (!Number.isInteger(f.seq) || f.seq < 0 || f.seq > 0xffffffff) throw new ReceiptError('seq must be a u32');
  b.writeUInt32BE(f.seq, 90);
  u64(b, 94, f.timeMs, 'timeMs');
  const c = f.chain;
  const tip = c ? Buffer.from(c.tip, 'hex') : NO_TIP;
  if (c && (!isU32(c.step) || !isU32(c.links) || c.step === 0 || c.links === 0 || tip.length !== 32)) {
    throw new ReceiptError('chain must have step and links 1..2^32-1 and a 32-byte tip');
  }
  b.writeUInt32BE(c?.step ?? 0, 102);
  b.writeUInt32BE(c?.links ?? 0, 106);
  tip.copy(b, 110);
  return b;
}

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function readU64(b: Buffer, off: number, name: string): number {
  const v = b.readBigUInt64BE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ReceiptError(`${name} is out of range`);
  return Number(v);
}

/** Parses a receipt's layout (not its signature: see verifyReceipt). */
export function decodeReceipt(raw: Buffer): Receipt {
  if (raw.length !== RECEIPT_BYTES) throw new ReceiptError(`a receipt is ${RECEIPT_BYTES} bytes, got ${raw.length}`);
  if (!raw.subarray(0, 4).equals(RECEIPT_MAGIC)) throw new ReceiptError('not a receipt (magic is not "SWR2")');
  const step = raw.readUInt32BE(102);
  const links = raw.readUInt32BE(106);
  if (!step !== !links) throw new ReceiptError('a chain needs both a step and links (or neither)');
  if (!links && !raw.subarray(110, 142).equals(NO_TIP)) throw new ReceiptError('a receipt without a chain has a zero tip');
  return {
    signer: raw.toString('hex', 4, 37),
    payee: raw.toString('hex', 37, 70),
    routeId: raw.readUInt32BE(70),
    bytes: readU64(raw, 74, 'bytes'),
    packets: readU64(raw, 82, 'packets'),
    seq: raw.readUInt32BE(90),
    timeMs: readU64(raw, 94, 'timeMs'),
    ...(links ? { chain: { step, links, tip: raw.toString('hex', 110, 142) } } : {}),
    raw: Buffer.from(raw),
  };
}

// ---- OpenSSL keys, made once per key ----

const B64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const signingKeys = new WeakMap<Buffer, KeyObject>();
const verifyKeys = new Map<string, KeyObject>();

function signingKey(k: KeyPair): KeyObject {
  let key = signingKeys.get(k.secretKey);
  if (!key) {
    const p = uncompressedPoint(k.publicKey);
    key = createPrivateKey({ key: { kty: 'EC', crv: 'secp256k1', d: B64(k.secretKey), x: B64(p.subarray(1, 33)), y: B64(p.subarray(33)) }, format: 'jwk' });
    signingKeys.set(k.secretKey, key);
  }
  return key;
}

function verifyKey(pkHex: string): KeyObject {
  let key = verifyKeys.get(pkHex);
  if (!key) {
    const p = uncompressedPoint(Buffer.from(pkHex, 'hex'));
    key = createPublicKey({ key: { kty: 'EC', crv: 'secp256k1', x: B64(p.subarray(1, 33)), y: B64(p.subarray(33)) }, format: 'jwk' });
    if (verifyKeys.size >= 4096) verifyKeys.clear(); // bounded: neighbours are few, a flood of keys only costs time
    verifyKeys.set(pkHex, key);
  }
  return key;
}

function withSignature(f: ReceiptFields, msg: Buffer, sig: Buffer): Receipt {
  // OpenSSL may return the high s; the low one is the same signature in the form verifiers require.
  const s = BigInt('0x' + sig.toString('hex', 32));
  if (s > HALF_N) sig.write((N - s).toString(16).padStart(64, '0'), 32, 'hex');
  return { ...f, raw: Buffer.concat([msg, sig]) };
}

/** Signs a receipt with the signer's key (its public key must be `f.signer`). */
export function signReceipt(f: ReceiptFields, key: KeyPair): Receipt {
  if (key.publicKey.toString('hex') !== f.signer) throw new ReceiptError('the key does not match the receipt signer');
  const msg = encodeReceiptMessage(f);
  return withSignature(f, msg, osslSign('sha256', msg, { key: signingKey(key), dsaEncoding: 'ieee-p1363' }));
}

/**
 * The same, on libuv's thread pool: a node signs a receipt per MiB it receives, and on its event loop that
 * would cost the data path a few percent (docs/metering.md, Measured).
 */
export function signReceiptAsync(f: ReceiptFields, key: KeyPair): Promise<Receipt> {
  if (key.publicKey.toString('hex') !== f.signer) return Promise.reject(new ReceiptError('the key does not match the receipt signer'));
  const msg = encodeReceiptMessage(f);
  return new Promise((resolve, reject) => {
    osslSign('sha256', msg, { key: signingKey(key), dsaEncoding: 'ieee-p1363' }, (err, sig) => (err ? reject(err) : resolve(withSignature(f, msg, sig))));
  });
}

function lowS(raw: Buffer): boolean {
  return BigInt('0x' + raw.toString('hex', RECEIPT_MESSAGE_BYTES + 32)) <= HALF_N;
}

/** True when the signature is the signer's over the message (@noble/curves; for offline checks). */
export function verifyReceipt(r: Receipt): boolean {
  try {
    const msg = r.raw.subarray(0, RECEIPT_MESSAGE_BYTES);
    const sig = r.raw.subarray(RECEIPT_MESSAGE_BYTES);
    return noble().verify(sig, msg, Buffer.from(r.signer, 'hex'), { prehash: true, lowS: true });
  } catch {
    return false;
  }
}

/** The same check on OpenSSL. */
export function verifyReceiptFast(r: Receipt): boolean {
  return verifyRawFast(r.raw);
}

/** verifyReceiptFast on an encoded receipt (its signer read from its bytes). */
export function verifyRawFast(raw: Buffer): boolean {
  try {
    if (raw.length !== RECEIPT_BYTES || !lowS(raw)) return false;
    const msg = raw.subarray(0, RECEIPT_MESSAGE_BYTES);
    const sig = raw.subarray(RECEIPT_MESSAGE_BYTES);
    return osslVerify('sha256', msg, { key: verifyKey(raw.toString('hex', 4, 37)), dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/** verifyReceiptFast on libuv's thread pool. */
export function verifyReceiptAsync(r: Receipt): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      if (!lowS(r.raw)) return resolve(false);
      const msg = r.raw.subarray(0, RECEIPT_MESSAGE_BYTES);
      const sig = r.raw.subarray(RECEIPT_MESSAGE_BYTES);
      osslVerify('sha256', msg, { key: verifyKey(r.signer), dsaEncoding: 'ieee-p1363' }, sig, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

/** SHA-256 of a receipt's message: the digest its signature covers. */
export function receiptDigest(r: Receipt): Buffer {
  return createHash('sha256').update(r.raw.subarray(0, RECEIPT_MESSAGE_BYTES)).digest();
}
