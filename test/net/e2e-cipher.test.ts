// AES-256-GCM negotiation of the end-to-end channel (e2e-cipher.ts, message-cipher.ts, secure.ts): the matrix of
// ends (both offering AES, one forcing ChaCha20, one from before the negotiation), data integrity across the switch
// and key rotation, and a hop on the path that drops or alters the negotiation messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { generateKeyPair } from '../../src/net/keys.js';
import { type SecureChannel, secureAccept, secureConnect } from '../../src/net/secure.js';
import { type CipherNegotiation, cpuinfoHasAes, e2eCipherPolicy } from '../../src/net/e2e-cipher.js';
import { MessageDecoder, MessageEncryptor } from '../../src/net/message-cipher.js';

const AES: CipherNegotiation = { negotiate: true, preferAes: true };
const CHACHA: CipherNegotiation = { negotiate: true, preferAes: false };
const LEGACY: CipherNegotiation = { negotiate: false, preferAes: false };

/** Bytes one side writes, seen by a hop on the path: it may replace or drop them, knowing their stream offset. */
type Tamper = (chunk: Buffer, offset: number) => Buffer | null;

/** One end of an in-memory wire; what it writes reaches the peer through `tamper`. */
class WireEnd extends Duplex {
  peer!: WireEnd;
  private sent = 0;
  constructor(private readonly tamper: Tamper) {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    const at = this.sent;
    this.sent += chunk.length;
    const out = this.tamper(chunk, at);
    if (out && out.length) setImmediate(() => this.peer.push(out));
    cb();
  }
  override _final(cb: () => void): void {
    setImmediate(() => this.peer.push(null));
    cb();
  }
}

function wire(toResponder: Tamper = (c) => c, toInitiator: Tamper = (c) => c): [WireEnd, WireEnd] {
  const a = new WireEnd(toResponder);
  const b = new WireEnd(toInitiator);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

async function pair(init: CipherNegotiation, resp: CipherNegotiation, toResponder?: Tamper, toInitiator?: Tamper) {
  const [a, b] = wire(toResponder, toInitiator);
  const rk = generateKeyPair();
  const [ci, cr] = await Promise.all([
    secureConnect(a, rk.publicKey, { localKey: generateKeyPair(), cipherNegotiation: init }),
    secureAccept(b, { localKey: rk, cipherNegotiation: resp }),
  ]);
  return { ci, cr };
}

/** Writes `total` random bytes in pieces of `piece`, one per turn (so that each is its own message); returns the hash. */
async function send(ch: SecureChannel, total: number, piece: number): Promise<string> {
  const h = createHash('sha256');
  for (let off = 0; off < total; off += piece) {
    const b = randomBytes(Math.min(piece, total - off));
    h.update(b);
    if (!ch.write(b)) await new Promise((r) => ch.once('drain', r));
    await new Promise((r) => setImmediate(r));
  }
  ch.end();
  return h.digest('hex');
}

function receive(ch: SecureChannel): Promise<string> {
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    ch.on('data', (d: Buffer) => h.update(d));
    ch.on('end', () => resolve(h.digest('hex')));
    ch.on('error', reject);
  });
}

/** Both directions at once, the initiator writing at once (before the responder's offer can arrive). */
async function exchange(ci: SecureChannel, cr: SecureChannel, total: number, piece: number): Promise<void> {
  const [sentI, sentR, gotR, gotI] = await Promise.all([send(ci, total, piece), send(cr, total, piece), receive(cr), receive(ci)]);
  assert.equal(gotR, sentI, 'initiator -> responder intact');
  assert.equal(gotI, sentR, 'responder -> initiator intact');
}

const matrix: Array<[string, CipherNegotiation, CipherNegotiation, 'aes-256-gcm' | 'chacha20-poly1305']> = [
  ['both offer AES', AES, AES, 'aes-256-gcm'],
  ['initiator forces ChaCha20', CHACHA, AES, 'chacha20-poly1305'],
  ['responder forces ChaCha20', AES, CHACHA, 'chacha20-poly1305'],
  ['responder from before the negotiation', AES, LEGACY, 'chacha20-poly1305'],
  ['initiator from before the negotiation', LEGACY, AES, 'chacha20-poly1305'],
  ['neither offers', CHACHA, CHACHA, 'chacha20-poly1305'],
];

for (const [name, init, resp, want] of matrix) {
  test(`negotiation: ${name} -> ${want} both ways, data intact`, async () => {
    const { ci, cr } = await pair(init, resp);
    await exchange(ci, cr, 1 << 20, 48 * 1024);
    assert.deepEqual(ci.cipher, { send: want, receive: want });
    assert.deepEqual(cr.cipher, { send: want, receive: want });
  });
}

test('AES-256-GCM direction: keys rotate (1,200 messages, past the 500-message rotation) and data stays intact', async () => {
  const { ci, cr } = await pair(AES, AES);
  await exchange(ci, cr, 1200 * 700, 700);
  assert.equal(ci.cipher.send, 'aes-256-gcm');
  assert.equal(cr.cipher.send, 'aes-256-gcm');
});

/** The responder's bytes: act 2 (50), its offer (34), then its switch marker (34) and AES messages. */
const OFFER_AT = 50;
const MESSAGE_BYTES = 34;

async function expectBroken(toInitiator: Tamper, codes: string[]): Promise<void> {
  const { ci, cr } = await pair(AES, AES, undefined, toInitiator);
  cr.on('error', () => {});
  const err = new Promise<Error & { code?: string }>((resolve) => ci.once('error', resolve));
  let delivered = 0;
  ci.on('data', (d: Buffer) => (delivered += d.length));
  cr.write(randomBytes(4096));
  ci.write(randomBytes(4096));
  const e = await err;
  assert.ok(codes.includes(e.code ?? ''), `error ${e.code}: ${e.message}`);
  assert.equal(delivered, 0, 'no plaintext released after a tampered negotiation');
}

/** Drops the bytes at stream offsets [from, to), however they were chunked. */
function dropRange(from: number, to: number): Tamper {
  return (c, at) => {
    const keep = [c.subarray(0, Math.max(0, Math.min(c.length, from - at))), c.subarray(Math.max(0, Math.min(c.length, to - at)))];
    return Buffer.concat(keep);
  };
}

test('a hop that drops the AES offer breaks the channel (no silent fall back to ChaCha20)', async () => {
  await expectBroken(dropRange(OFFER_AT, OFFER_AT + MESSAGE_BYTES), ['BAD_LENGTH_TAG']);
});

test('a hop that alters the AES offer breaks the channel', async () => {
  const flip = OFFER_AT + 20;
  await expectBroken((c, at) => {
    if (flip < at || flip >= at + c.length) return c;
    const x = Buffer.from(c);
    x[flip - at] ^= 1;
    return x;
  }, ['BAD_TAG']);
});

test('a hop that drops the switch marker breaks the channel (AES messages do not verify as ChaCha20)', async () => {
  await expectBroken(dropRange(OFFER_AT + MESSAGE_BYTES, OFFER_AT + 2 * MESSAGE_BYTES), ['BAD_LENGTH_TAG']);
});

test('a decoder from before the negotiation verifies and ignores the empty offer message', () => {
  const key = randomBytes(32);
  const ck = randomBytes(32);
  const enc = new MessageEncryptor(key, ck);
  const old = new MessageDecoder(key, ck);
  const wireBytes = Buffer.concat([...enc.marker(), ...enc.encrypt(Buffer.from('hello'))]);
  assert.deepEqual(Buffer.concat(old.push(wireBytes)).toString(), 'hello');
});

test('a switch marker is followed only by an end that offered AES itself', () => {
  const key = randomBytes(32);
  const ck = randomBytes(32);
  const peerWire = () => {
    const enc = new MessageEncryptor(key, ck);
    return Buffer.concat([...enc.marker(), ...enc.switchToAes(), ...enc.encrypt(Buffer.from('after the switch'))]);
  };
  const offered = new MessageDecoder(key, ck, true, true);
  assert.equal(Buffer.concat(offered.push(peerWire())).toString(), 'after the switch');
  assert.equal(offered.algorithm, 'aes-256-gcm');
  const forcedChaCha = new MessageDecoder(key, ck, true, false);
  assert.throws(() => forcedChaCha.push(peerWire()), { code: 'BAD_LENGTH_TAG' });
  assert.equal(forcedChaCha.algorithm, 'chacha20-poly1305');
});

test('AES hardware detection reads x86 flags and arm64 Features; SKYWIRE_E2E_CIPHER is checked', () => {
  assert.equal(cpuinfoHasAes('processor\t: 0\nflags\t\t: fpu sse2 aes avx2\n'), true);
  assert.equal(cpuinfoHasAes('processor\t: 0\nflags\t\t: fpu sse2 avx2 vaes_not\n'), false);
  assert.equal(cpuinfoHasAes('Features\t: fp asimd aes pmull sha1\n'), true);
  assert.equal(cpuinfoHasAes('Features\t: fp asimd evtstrm crc32\n'), false);
  assert.deepEqual(e2eCipherPolicy({ SKYWIRE_E2E_CIPHER: 'aes-256-gcm' }), AES);
  assert.deepEqual(e2eCipherPolicy({ SKYWIRE_E2E_CIPHER: 'chacha20-poly1305' }), CHACHA);
  assert.deepEqual(e2eCipherPolicy({ SKYWIRE_E2E_CIPHER: 'legacy' }), LEGACY);
  assert.equal(e2eCipherPolicy({}).negotiate, true);
  assert.throws(() => e2eCipherPolicy({ SKYWIRE_E2E_CIPHER: 'aes' }), /SKYWIRE_E2E_CIPHER="aes" is not one of auto, aes-256-gcm/);
});
