// secp256k1 for the handshake: the BOLT #8 shared point k*P, key generation and public key checks, on node's
// built-in OpenSSL when it has the curve (2-4x faster than pure JS here), else on @noble/curves.
//
// OpenSSL's ECDH (createECDH().computeSecret, diffieHellman) returns only x(k*P), and BOLT #8 hashes the
// compressed point, which needs the parity of y too. Instead of recovering that parity with a second
// multiplication, we ask OpenSSL for the whole point in one: an EC private key whose curve is given with explicit
// parameters (SEC 1 ECParameters) -- secp256k1's p, a = 0, b = 7, order n, cofactor 1 -- but with P as the
// generator. A SEC 1 private key without its public key gets it computed on import, as privateKey * generator =
// k*P (OpenSSL's constant-time ladder), and the public key comes back uncompressed in its SPKI encoding. This is
// sound for every valid P: the group has prime order n, so any point but infinity (which has no 33-byte encoding)
// generates it with the same order and cofactor; k is checked to be in [1, n-1]; P is checked on the curve first.
// NATIVE_SECP256K1 is decided at load by a known-answer test (a BOLT #8 Appendix A ECDH); if OpenSSL lacks the
// curve or refuses explicit parameters, everything here runs on @noble/curves instead.
import type { secp256k1 as NobleSecp256k1 } from '@noble/curves/secp256k1.js';
import { ECDH, createECDH, createHash, createPrivateKey, createPublicKey, getCurves } from 'node:crypto';
import { createRequire } from 'node:module';

export type NobleCurve = typeof NobleSecp256k1;
let nobleCurve: NobleCurve | undefined;
/**
 * @noble/curves, loaded on first use: where OpenSSL has the curve a node never needs it (metering's offline checks
 * and statement signatures do), and loading it cost an idle node about 10 MB of memory (docs/node.md, Memory).
 */
export function noble(): NobleCurve {
  return (nobleCurve ??= (createRequire(import.meta.url)('@noble/curves/secp256k1.js') as { secp256k1: NobleCurve }).secp256k1);
}

const CURVE = 'secp256k1';

// ---- DER of a SEC 1 ECPrivateKey with explicit parameters; only k and the generator P change ---------------
function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
const derInt = (b: Buffer) => tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const hex = (s: string) => Buffer.from(s, 'hex');
const FIELD_P = hex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f');
const ORDER_N = hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
const PRIME_FIELD_OID = hex('06072a8648ce3d0101'); // 1.2.840.10045.1.1
const K_MARK = Buffer.alloc(32, 0xa5);
const P_MARK = Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 0x5a)]);
const TEMPLATE = tlv(
  0x30,
  Buffer.concat([
    derInt(Buffer.from([1])),
    tlv(0x04, K_MARK),
    tlv(
      0xa0,
      tlv(
        0x30,
        Buffer.concat([
          derInt(Buffer.from([1])),
          tlv(0x30, Buffer.concat([PRIME_FIELD_OID, derInt(FIELD_P)])),
          tlv(0x30, Buffer.concat([tlv(0x04, Buffer.alloc(32)), tlv(0x04, Buffer.concat([Buffer.alloc(31), Buffer.from([7])]))])),
          tlv(0x04, P_MARK), // the generator: P, compressed (OpenSSL decompresses it)
          derInt(ORDER_N),
          derInt(Buffer.from([1])),
        ]),
      ),
    ),
  ]),
);
const K_AT = TEMPLATE.indexOf(K_MARK);
const P_AT = TEMPLATE.indexOf(P_MARK);

/** k*P with OpenSSL, compressed; inputs already checked. Returns null if OpenSSL answers in an unexpected shape. */
function mulNative(secretKey: Uint8Array, publicKey: Uint8Array): Buffer | null {
  const der = Buffer.from(TEMPLATE);
  der.set(secretKey, K_AT);
  der.set(publicKey, P_AT);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'sec1' })).export({ format: 'der', type: 'spki' });
  // ... BIT STRING (03 42 00) holding 04 || x || y, at the very end.
  const at = spki.length - 65;
  if (spki[at - 3] !== 0x03 || spki[at - 2] !== 0x42 || spki[at - 1] !== 0x00 || spki[at] !== 0x04) return null;
  const out = Buffer.allocUnsafe(33);
  out[0] = spki[spki.length - 1] & 1 ? 3 : 2;
  spki.copy(out, 1, at + 1, at + 33);
  return out;
}

/** True when node's OpenSSL has secp256k1 and computes k*P as above (checked once, at load). */
export const NATIVE_SECP256K1: boolean = (() => {
  try {
    if (!getCurves().includes(CURVE)) return false;
    // BOLT #8 Appendix A: ECDH(e.priv = 0x12..12, rs.pub) = ss of act one.
    const p = mulNative(Buffer.alloc(32, 0x12), hex('028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7'));
    return (
      p !== null &&
      createHash('sha256').update(p).digest('hex') === '1e2fb3c8fe8fb9f262f649f64d26ecf0f2c0a805a767cf02dc2d77a6ef1fdcc3'
    );
  } catch {
    return false;
  }
})();

/** The group order n, for range checks and the low-s rule of ECDSA signatures. */
export const CURVE_ORDER = BigInt(`0x${ORDER_N.toString('hex')}`);

/** True for a 32-byte secret key in [1, n-1]. */
export function isValidSecretKey(secretKey: Uint8Array): boolean {
  if (secretKey.length !== 32) return false;
  const k = BigInt(`0x${Buffer.from(secretKey.buffer, secretKey.byteOffset, 32).toString('hex')}`);
  return k > 0n && k < CURVE_ORDER;
}

function checkSecret(secretKey: Uint8Array): void {
  if (!isValidSecretKey(secretKey)) {
    throw new Error('secret key must be 32 bytes in the range of secp256k1');
  }
}

/** k*P as a 33-byte compressed point with @noble/curves (the reference, and the fallback). */
export function sharedPointNoble(secretKey: Uint8Array, publicKey: Uint8Array): Buffer {
  return Buffer.from(noble().getSharedSecret(secretKey, publicKey, true));
}

/** How often OpenSSL's answer had an unexpected shape and noble answered instead (the tests assert 0). */
export const nativeFallbacks = { count: 0 };

/** k*P as a 33-byte compressed point with node's OpenSSL (only when NATIVE_SECP256K1). */
export function sharedPointNative(secretKey: Uint8Array, publicKey: Uint8Array): Buffer {
  checkSecret(secretKey);
  if (!isValidPublicKeyNative(publicKey)) throw new Error('public key is not a compressed point on secp256k1');
  const out = mulNative(secretKey, publicKey);
  if (out) return out;
  nativeFallbacks.count++;
  return sharedPointNoble(secretKey, publicKey);
}

/** k*P, compressed (33 bytes). Throws on an invalid secret or public key. */
export const sharedPoint: (secretKey: Uint8Array, publicKey: Uint8Array) => Buffer = NATIVE_SECP256K1
  ? sharedPointNative
  : sharedPointNoble;

export function isValidPublicKeyNative(pk: Uint8Array): boolean {
  if (pk.length !== 33 || (pk[0] !== 2 && pk[0] !== 3)) return false;
  try {
    // OpenSSL decodes the point: it rejects x >= p and an x with no point on the curve.
    ECDH.convertKey(pk, CURVE, undefined, undefined, 'uncompressed');
    return true;
  } catch {
    return false;
  }
}

export function isValidPublicKeyNoble(pk: Uint8Array): boolean {
  if (pk.length !== 33 || (pk[0] !== 2 && pk[0] !== 3)) return false;
  try {
    return noble().utils.isValidPublicKey(pk, true);
  } catch {
    return false;
  }
}

/** True if `pk` is a 33-byte compressed point on secp256k1. */
export const isValidCompressedPoint: (pk: Uint8Array) => boolean = NATIVE_SECP256K1 ? isValidPublicKeyNative : isValidPublicKeyNoble;

/** A fresh key pair: 32-byte secret, 33-byte compressed public key. */
export function generateSecp256k1(): { secretKey: Buffer; publicKey: Buffer } {
  if (!NATIVE_SECP256K1) {
    const { secretKey, publicKey } = noble().keygen();
    return { secretKey: Buffer.from(secretKey), publicKey: Buffer.from(publicKey) };
  }
  const ecdh = createECDH(CURVE);
  ecdh.generateKeys();
  const publicKey = ecdh.getPublicKey(null, 'compressed');
  let secretKey = ecdh.getPrivateKey();
  if (secretKey.length < 32) secretKey = Buffer.concat([Buffer.alloc(32 - secretKey.length), secretKey]);
  return { secretKey, publicKey };
}

/** The compressed public key of a valid secret key. */
export function publicKeyOf(secretKey: Uint8Array): Buffer {
  checkSecret(secretKey);
  if (!NATIVE_SECP256K1) return Buffer.from(noble().getPublicKey(secretKey, true));
  const ecdh = createECDH(CURVE);
  ecdh.setPrivateKey(secretKey);
  return ecdh.getPublicKey(null, 'compressed');
}

/** The 65-byte uncompressed form (04 || x || y) of a valid compressed public key. */
export function uncompressedPoint(pk: Uint8Array): Buffer {
  if (NATIVE_SECP256K1) return ECDH.convertKey(pk, CURVE, undefined, undefined, 'uncompressed') as Buffer;
  return Buffer.from(noble().Point.fromBytes(pk).toBytes(false));
}
