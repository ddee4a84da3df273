// The verifier of `skywire metering verify` (libsecp256k1 in WebAssembly, verify-libsecp.ts) against the two
// independent ones (@noble/curves and OpenSSL): the same answer on valid, forged, high-s, out-of-range and
// wrong-key signatures, on the calling thread and in each worker thread's share (verify-pool.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { generateKeyPair } from '../../src/net/keys.js';
import { decodeReceipt, RECEIPT_MESSAGE_BYTES, signReceipt, verifyRawFast, verifyReceipt } from '../../src/node/metering/receipt.js';
import { verifyRawLibsecp } from '../../src/node/metering/verify-libsecp.js';
import { verifyReceiptsParallel } from '../../src/node/metering/verify-pool.js';

const N = secp256k1.Point.CURVE().n;
const signer = generateKeyPair();
const other = generateKeyPair();
const payee = generateKeyPair().publicKey.toString('hex');
const hex32 = (v: bigint) => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
const sOf = (raw: Buffer) => BigInt('0x' + raw.toString('hex', RECEIPT_MESSAGE_BYTES + 32));

function receipt(routeId: number, key = signer, claimed = key): Buffer {
  const r = signReceipt({ signer: key.publicKey.toString('hex'), payee, routeId, bytes: routeId << 20, packets: routeId, seq: routeId, timeMs: 1_700_000_000_000 + routeId }, key);
  const raw = Buffer.from(r.raw);
  if (claimed !== key) claimed.publicKey.copy(raw, 4); // another key's signature, presented as `claimed`'s
  return raw;
}
const edit = (raw: Buffer, f: (b: Buffer) => void) => {
  const b = Buffer.from(raw);
  f(b);
  return b;
};
const setS = (b: Buffer, s: bigint) => hex32(s).copy(b, RECEIPT_MESSAGE_BYTES + 32);
const setR = (b: Buffer, r: bigint) => hex32(r).copy(b, RECEIPT_MESSAGE_BYTES);

/** Each kind of receipt a statement may carry, with the answer every verifier must give. */
function cases(routeId: number): Array<{ name: string; raw: Buffer; valid: boolean }> {
  const good = receipt(routeId);
  return [
    { name: 'valid', raw: good, valid: true },
    { name: 'valid, another signer', raw: receipt(routeId, other), valid: true },
    { name: 'message forged (bytes)', raw: edit(good, (b) => (b[80] ^= 1)), valid: false },
    { name: 'signature forged', raw: edit(good, (b) => (b[RECEIPT_MESSAGE_BYTES + 10] ^= 0x40)), valid: false },
    { name: 'high s (the same signature, other form)', raw: edit(good, (b) => setS(b, N - sOf(good))), valid: false },
    { name: 'wrong key (signed by another, claims the signer)', raw: receipt(routeId, other, signer), valid: false },
    { name: 'r = 0', raw: edit(good, (b) => setR(b, 0n)), valid: false },
    { name: 's = 0', raw: edit(good, (b) => setS(b, 0n)), valid: false },
    { name: 'r = n', raw: edit(good, (b) => setR(b, N)), valid: false },
    { name: 's = 2^256 - 1', raw: edit(good, (b) => b.fill(0xff, RECEIPT_MESSAGE_BYTES + 32)), valid: false },
    { name: 'signer is not a point', raw: edit(good, (b) => b.fill(0xff, 5, 37)), valid: false },
  ];
}

const noble = (raw: Buffer) => verifyReceipt(decodeReceipt(raw));

test('libsecp256k1, @noble/curves and OpenSSL agree on valid, forged, high-s, out-of-range and wrong-key receipts', () => {
  for (const c of cases(7)) {
    const got = { libsecp: verifyRawLibsecp(c.raw), noble: noble(c.raw), openssl: verifyRawFast(c.raw) };
    assert.deepEqual(got, { libsecp: c.valid, noble: c.valid, openssl: c.valid }, c.name);
  }
  // The high-s case is a real signature in its other form (so its refusal is the low-s rule, not garbage).
  const high = cases(7)[4].raw;
  assert.ok(secp256k1.verify(high.subarray(RECEIPT_MESSAGE_BYTES), high.subarray(0, RECEIPT_MESSAGE_BYTES), signer.publicKey, { prehash: true, lowS: false }));
  // A cut or padded receipt is refused, not read past its end.
  assert.equal(verifyRawLibsecp(cases(7)[0].raw.subarray(1)), false);
  assert.equal(verifyRawLibsecp(Buffer.concat([cases(7)[0].raw, Buffer.alloc(1)])), false);
});

test('across worker threads each share gives the same answers as @noble/curves, receipt by receipt', async () => {
  // 3 threads (the caller and 2 workers) over 880 receipts: every kind of case lands in every thread's share.
  const kinds = [1, 2, 3, 4, 5].flatMap((r) => cases(r));
  const raws = Array.from({ length: 880 }, (_, i) => kinds[i % kinds.length].raw);
  const want = raws.map(noble);
  assert.deepEqual(await verifyReceiptsParallel(raws, 3), want);
  assert.deepEqual(await verifyReceiptsParallel(raws, 3, 'openssl'), want);
  assert.equal(want.filter(Boolean).length, 160, '2 valid kinds of 11, 880 receipts');
});
