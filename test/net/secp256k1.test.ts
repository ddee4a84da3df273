// secp256k1 on node's OpenSSL (with the y parity of the shared point recovered) must give exactly what the
// pure-JS reference (@noble/curves) gives: every handshake key depends on it, and peers may run either path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, getCurves, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ecdh } from '../../src/net/handshake.js';
import { generateKeyPair, isValidPublicKey, keyPairFromSecret } from '../../src/net/keys.js';
import {
  CURVE_ORDER,
  NATIVE_SECP256K1,
  isValidSecretKey,
  uncompressedPoint,
  isValidPublicKeyNative,
  isValidPublicKeyNoble,
  nativeFallbacks,
  sharedPoint,
  sharedPointNative,
  sharedPointNoble,
} from '../../src/net/secp256k1.js';

const N = secp256k1.Point.CURVE().n;
const FIELD_P = secp256k1.Point.CURVE().p;
const b32 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
const pubOf = (k: bigint) => Buffer.from(secp256k1.getPublicKey(b32(k), true));
const neg = (pk: Buffer) => Buffer.concat([Buffer.from([pk[0] ^ 1]), pk.subarray(1)]);
const hex = (s: string) => Buffer.from(s, 'hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const skip = NATIVE_SECP256K1 ? false : 'node has no native secp256k1 here';

test('the native path is used exactly when node has secp256k1, else the noble fallback', () => {
  assert.equal(NATIVE_SECP256K1, getCurves().includes('secp256k1'));
  assert.equal(sharedPoint, NATIVE_SECP256K1 ? sharedPointNative : sharedPointNoble);
});

test('the three ECDH values of BOLT #8 Appendix A (ss), on both paths', { skip }, () => {
  const ls = b32(0x1111111111111111111111111111111111111111111111111111111111111111n);
  const e = b32(0x1212121212121212121212121212121212121212121212121212121212121212n);
  const rs = hex('028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7');
  const re = hex('02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27');
  const cases: [Buffer, Buffer, string][] = [
    [e, rs, '1e2fb3c8fe8fb9f262f649f64d26ecf0f2c0a805a767cf02dc2d77a6ef1fdcc3'],
    [e, re, 'c06363d6cc549bcb7913dbb9ac1c33fc1158680c89e972000ecd06b36c472e47'],
    [ls, re, 'b36b6d195982c5be874d6d542dc268234379e1ae4ff1709402135b7de5cf0766'],
  ];
  for (const [k, p, ss] of cases) {
    assert.equal(ecdh(k, p).toString('hex'), ss);
    assert.equal(sha256(sharedPointNative(k, p)), ss);
    assert.equal(sha256(sharedPointNoble(k, p)), ss);
  }
});

test('native shared point equals noble on 500 random key pairs (both parities of y occur)', { skip }, () => {
  const prefixes = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const k = secp256k1.utils.randomSecretKey();
    const p = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
    const native = sharedPointNative(k, p);
    assert.deepEqual(native, sharedPointNoble(k, p), `k=${Buffer.from(k).toString('hex')} P=${Buffer.from(p).toString('hex')}`);
    prefixes.add(native[0]);
  }
  assert.deepEqual([...prefixes].sort(), [2, 3]);
});

test('edge cases: k = 1, 2, 3, n/2, n-3 .. n-1; P = ±G, ±2G, 3G, P = k*G and -k*G', { skip }, () => {
  const scalars = [1n, 2n, 3n, N - 3n, N - 2n, N - 1n, N / 2n, N / 2n + 1n];
  const randomK = () => BigInt('0x' + Buffer.from(secp256k1.utils.randomSecretKey()).toString('hex'));
  const points = [pubOf(1n), pubOf(N - 1n), pubOf(2n), pubOf(N - 2n), pubOf(3n), pubOf(N / 2n)];
  for (let i = 0; i < 5; i++) {
    const p = pubOf(randomK());
    points.push(p, neg(p));
  }
  for (const k of [...scalars, randomK(), randomK()]) {
    for (const p of points) {
      assert.deepEqual(sharedPointNative(b32(k), p), sharedPointNoble(b32(k), p), `k=${k} P=${p.toString('hex')}`);
    }
    // P = k*G itself (Q = k^2*G), and its negation.
    const own = pubOf(k);
    assert.deepEqual(sharedPointNative(b32(k), own), sharedPointNoble(b32(k), own));
    assert.deepEqual(sharedPointNative(b32(k), neg(own)), sharedPointNoble(b32(k), neg(own)));
  }
  // The known answers: 1*P = P, (n-1)*P = -P, k*G = public key, k*(-G) = -public key.
  const p = pubOf(randomK());
  assert.deepEqual(sharedPointNative(b32(1n), p), p);
  assert.deepEqual(sharedPointNative(b32(N - 1n), p), neg(p));
  const k = randomK();
  assert.deepEqual(sharedPointNative(b32(k), pubOf(1n)), pubOf(k));
  assert.deepEqual(sharedPointNative(b32(k), pubOf(N - 1n)), neg(pubOf(k)));
});

test('invalid secrets and public keys are refused by both paths', { skip }, () => {
  const p = generateKeyPair().publicKey;
  const k = generateKeyPair().secretKey;
  for (const bad of [b32(0n), b32(N), b32(N + 1n), Buffer.alloc(32, 0xff), Buffer.alloc(31, 1), Buffer.alloc(33, 1)]) {
    assert.throws(() => sharedPointNative(bad, p));
    assert.throws(() => sharedPointNoble(bad, p));
  }
  const notOnCurve = (() => {
    for (let x = 1n; ; x++) {
      const pk = Buffer.concat([Buffer.from([2]), b32(x)]);
      if (!isValidPublicKeyNoble(pk)) return pk;
    }
  })();
  const badKeys = [
    Buffer.concat([Buffer.from([2]), b32(FIELD_P)]), // x = p
    Buffer.concat([Buffer.from([3]), b32(FIELD_P + 1n)]), // x >= p
    Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 0xff)]),
    Buffer.concat([Buffer.from([2]), b32(0n)]),
    notOnCurve,
    Buffer.concat([Buffer.from([4]), p.subarray(1)]),
    Buffer.concat([Buffer.from([5]), p.subarray(1)]),
    p.subarray(0, 32),
    Buffer.concat([p, Buffer.alloc(32)]),
    Buffer.alloc(0),
  ];
  for (const bad of badKeys) {
    assert.equal(isValidPublicKeyNative(bad), false, bad.toString('hex'));
    assert.equal(isValidPublicKeyNoble(bad), false, bad.toString('hex'));
    assert.equal(isValidPublicKey(bad), false);
    assert.throws(() => sharedPointNative(k, bad));
    assert.throws(() => sharedPointNoble(k, bad));
    assert.throws(() => ecdh(k, bad));
  }
});

test('public key validation agrees with noble on 5,000 random 33-byte strings', { skip }, () => {
  let valid = 0;
  for (let i = 0; i < 5000; i++) {
    const pk = randomBytes(33);
    pk[0] = 2 + (i & 1);
    const v = isValidPublicKeyNative(pk);
    assert.equal(v, isValidPublicKeyNoble(pk), pk.toString('hex'));
    if (v) valid++;
  }
  assert.ok(valid > 2000 && valid < 3000, `about half of all x are on the curve, got ${valid}`);
});

test('native key generation and public key derivation match noble', { skip }, () => {
  for (let i = 0; i < 300; i++) {
    const kp = generateKeyPair();
    assert.equal(kp.secretKey.length, 32);
    assert.ok(secp256k1.utils.isValidSecretKey(kp.secretKey));
    assert.deepEqual(kp.publicKey, Buffer.from(secp256k1.getPublicKey(kp.secretKey, true)));
    const s = secp256k1.utils.randomSecretKey();
    assert.deepEqual(keyPairFromSecret(s).publicKey, Buffer.from(secp256k1.getPublicKey(s, true)));
  }
  // Small secrets (leading zero bytes) keep 32 bytes and the right public key.
  for (const k of [1n, 2n, 0xffn, N - 1n]) assert.deepEqual(keyPairFromSecret(b32(k)).publicKey, pubOf(k));
});

test('OpenSSL answered every multiplication above itself (the noble safety net never did)', { skip }, () => {
  assert.equal(nativeFallbacks.count, 0);
});

test('isValidSecretKey: 32 bytes in [1, n-1], the same answers as noble at the edges', () => {
  assert.equal(CURVE_ORDER, N);
  for (const k of [0n, 1n, 2n, N - 1n, N, N + 1n, 2n ** 256n - 1n]) {
    assert.equal(isValidSecretKey(b32(k)), secp256k1.utils.isValidSecretKey(b32(k)), `k = ${k.toString(16)}`);
  }
  assert.equal(isValidSecretKey(b32(1n)), true);
  assert.equal(isValidSecretKey(b32(N)), false);
  assert.equal(isValidSecretKey(Buffer.alloc(31, 1)), false);
  assert.equal(isValidSecretKey(Buffer.alloc(33, 1)), false);
  // A view into a larger buffer reads only its own 32 bytes.
  const big = Buffer.concat([Buffer.alloc(8, 0xff), b32(5n), Buffer.alloc(8, 0xff)]);
  assert.equal(isValidSecretKey(big.subarray(8, 40)), true);
  assert.throws(() => keyPairFromSecret(b32(0n)), /range of secp256k1/);
});

test('uncompressedPoint gives the point noble gives, for both parities', () => {
  for (let i = 0; i < 16; i++) {
    const pk = generateKeyPair().publicKey;
    for (const p of [pk, neg(pk)]) assert.deepEqual(uncompressedPoint(p), Buffer.from(secp256k1.Point.fromBytes(p).toBytes(false)));
  }
});
