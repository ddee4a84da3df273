// The primitives BOLT #8 names: HKDF-SHA256 with 64 bytes of output, and ChaCha20-Poly1305 (RFC 8439) with the
// Noise nonce layout (4 zero bytes, then the 64-bit counter little-endian). All on node's built-in crypto.
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export const TAG_BYTES = 16;

/** HKDF(salt, ikm) with empty info, split into two 32-byte keys. */
export function hkdf(salt: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const t1 = createHmac('sha256', prk).update(ONE).digest();
  const t2 = createHmac('sha256', prk).update(t1).update(TWO).digest();
  return [t1, t2];
}
const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);

/** Writes counter `n` into a 12-byte nonce buffer (reused by callers: createCipheriv copies it). */
export function setNonce(nonce: Buffer, n: number): Buffer {
  nonce.writeUInt32LE(0, 0);
  nonce.writeUInt32LE(n % 0x100000000, 4);
  nonce.writeUInt32LE(Math.floor(n / 0x100000000), 8);
  return nonce;
}

export function encryptWithAD(key: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, setNonce(Buffer.alloc(12), n), { authTagLength: TAG_BYTES });
  if (ad.length) c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

/** Returns the plaintext, or null when the tag does not verify (never partial plaintext). */
export function decryptWithAD(key: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  if (ciphertext.length < TAG_BYTES) return null;
  const d = createDecipheriv('chacha20-poly1305', key, setNonce(Buffer.alloc(12), n), { authTagLength: TAG_BYTES });
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  if (ad.length) d.setAAD(ad, { plaintextLength: ciphertext.length - TAG_BYTES });
  const out = d.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    return null;
  }
  return out;
}
