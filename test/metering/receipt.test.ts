// The receipt format against vectors computed outside receipt.ts: the message layout written out by hand, the
// keys 1*G and 2*G (well-known points), and an RFC 6979 signature made here with @noble/curves on the SHA-256 the
// test computes itself; our OpenSSL signatures checked with noble and with node's crypto directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as osslVerify } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  decodeReceipt,
  encodeReceiptMessage,
  RECEIPT_BYTES,
  signReceipt,
  verifyReceipt,
  verifyReceiptFast,
  type ReceiptFields,
} from '../../src/node/metering/receipt.js';
import { keyPairFromSecret } from '../../src/net/keys.js';

const secret = (n: number) => Buffer.concat([Buffer.alloc(31), Buffer.from([n])]);
const G1 = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
const G2 = '02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5';
const FIELDS: ReceiptFields = {
  signer: G1, payee: G2, routeId: 0x01020304, bytes: 1048576, packets: 17, seq: 3, timeMs: 1_700_000_000_000,
  chain: { step: 1048576, links: 4, tip: 'ab'.repeat(32) },
};
const MESSAGE_HEX =
  '53575232' + G1 + G2 + '01020304' + '0000000000100000' + '0000000000000011' + '00000003' + '0000018bcfe56800' +
  '00100000' + '00000004' + 'ab'.repeat(32);
const DIGEST_HEX = '04e2e0df3af5a12520e2c969b6d30f6977d3852cad3d92637b337011ca907b1a';
// secp256k1.sign(DIGEST, secret 1, { prehash: false }): RFC 6979, deterministic.
const RFC6979_SIG =
  'f2201ec66a451f38a94e6c7867961ea13aabec0a92fad27a7de288d93e037c7b1b28ef93804620acafc4c16836d33c891e1ea22100e9a2a1d634b3889501b3a4';

test('the receipt message has the documented layout, big-endian', () => {
  const msg = encodeReceiptMessage(FIELDS);
  assert.equal(msg.toString('hex'), MESSAGE_HEX);
  assert.equal(createHash('sha256').update(msg).digest('hex'), DIGEST_HEX);
  assert.equal(RECEIPT_BYTES, 142 + 64);
});

test('a signature computed independently (RFC 6979 on the digest) verifies, and a changed byte does not', () => {
  const raw = Buffer.concat([Buffer.from(MESSAGE_HEX, 'hex'), Buffer.from(RFC6979_SIG, 'hex')]);
  const r = decodeReceipt(raw);
  assert.deepEqual({ ...r, raw: undefined }, { ...FIELDS, raw: undefined });
  assert.equal(verifyReceipt(r), true);
  assert.equal(verifyReceiptFast(r), true);
  for (const at of [0, 10, 75, 95, 104, 108, 120, 150]) {
    const bad = Buffer.from(raw);
    bad[at] ^= 1;
    let ok: boolean;
    try {
      const d = decodeReceipt(bad);
      ok = verifyReceipt(d) || verifyReceiptFast(d);
    } catch {
      ok = false;
    }
    assert.equal(ok, false, `byte ${at} flipped`);
  }
});

test('our signatures verify with noble and with node crypto, always low-s; the high-s twin is refused', () => {
  const key = keyPairFromSecret(secret(1));
  const n = secp256k1.Point.CURVE().n;
  const jwkPub = (() => {
    const p = secp256k1.Point.fromHex(G1).toBytes(false);
    const b = (x: Uint8Array) => Buffer.from(x).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'secp256k1', x: b(p.subarray(1, 33)), y: b(p.subarray(33)) }, format: 'jwk' });
  })();
  for (let i = 0; i < 20; i++) {
    const r = signReceipt({ ...FIELDS, seq: i }, key);
    const msg = r.raw.subarray(0, 142);
    const sig = r.raw.subarray(142);
    assert.ok(secp256k1.verify(sig, createHash('sha256').update(msg).digest(), Buffer.from(G1, 'hex'), { prehash: false, lowS: true }));
    assert.ok(osslVerify('sha256', msg, { key: jwkPub, dsaEncoding: 'ieee-p1363' }, sig));
    const high = Buffer.from(r.raw);
    high.write((n - BigInt('0x' + sig.toString('hex', 32))).toString(16).padStart(64, '0'), 174, 'hex');
    const twin = decodeReceipt(high);
    assert.equal(verifyReceipt(twin), false);
    assert.equal(verifyReceiptFast(twin), false);
  }
});

test('a receipt signed with another key, or malformed, is refused with a clear error', () => {
  const other = keyPairFromSecret(secret(3));
  assert.throws(() => signReceipt(FIELDS, other), /does not match the receipt signer/);
  const forged = signReceipt({ ...FIELDS, signer: other.publicKey.toString('hex') }, other);
  const claimedByG1 = decodeReceipt(Buffer.concat([Buffer.from(MESSAGE_HEX, 'hex'), forged.raw.subarray(142)]));
  assert.equal(verifyReceipt(claimedByG1), false);
  assert.equal(verifyReceiptFast(claimedByG1), false);
  assert.throws(() => decodeReceipt(Buffer.alloc(10)), /a receipt is 206 bytes, got 10/);
  assert.throws(() => decodeReceipt(Buffer.alloc(206)), /magic/);
  assert.throws(() => encodeReceiptMessage({ ...FIELDS, chain: { step: 0, links: 4, tip: 'ab'.repeat(32) } }), /chain must have/);
  assert.throws(() => encodeReceiptMessage({ ...FIELDS, bytes: -1 }), /bytes must be/);
});
