// Receipt signatures checked on libsecp256k1 (Bitcoin Core's library, compiled to WebAssembly: tiny-secp256k1),
// the engine of `skywire metering verify` (verify-pool.ts). Kept out of receipt.ts so that a node, which checks a
// few receipts a second on OpenSSL, never loads the WebAssembly module. Same rule as the others: ECDSA over
// SHA-256 of the 142-byte message, compact r||s, low s only (strict), so it accepts exactly what @noble/curves
// and OpenSSL accept (test/metering/verify-libsecp.test.ts).
import { createHash } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import { RECEIPT_BYTES, RECEIPT_MESSAGE_BYTES, verifyRawFast } from './receipt.js';

/** Signer keys, uncompressed once: parsing a compressed key costs libsecp256k1 a square root per receipt. */
const keys = new Map<string, Uint8Array | null>();
const MAX_KEYS = 4096;

function signerKey(raw: Buffer): Uint8Array | null {
  const hex = raw.toString('latin1', 4, 37);
  let q = keys.get(hex);
  if (q === undefined) {
    const pk = raw.subarray(4, 37);
    q = ecc.isPoint(pk) ? ecc.pointCompress(pk, false) : null; // null: not a point, every receipt of it fails
    if (keys.size >= MAX_KEYS) keys.clear(); // bounded: a statement names few signers, a flood only costs time
    keys.set(hex, q);
  }
  return q;
}

/** True when an encoded receipt's signature is its signer's (the signer read from its bytes). */
export function verifyRawLibsecp(raw: Buffer): boolean {
  if (raw.length !== RECEIPT_BYTES) return false;
  try {
    const q = signerKey(raw);
    if (!q) return false;
    const h = createHash('sha256').update(raw.subarray(0, RECEIPT_MESSAGE_BYTES)).digest();
    return ecc.verify(h, q, raw.subarray(RECEIPT_MESSAGE_BYTES), true);
  } catch {
    return false; // r or s out of range: tiny-secp256k1 throws before verifying
  }
}

/** The engines a pool can run: libsecp256k1 (the default) and OpenSSL (kept for comparison in the bench). */
export type VerifyEngine = 'libsecp' | 'openssl';
export const ENGINES: Record<VerifyEngine, (raw: Buffer) => boolean> = { libsecp: verifyRawLibsecp, openssl: verifyRawFast };
