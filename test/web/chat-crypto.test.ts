// The chat's end-to-end encryption: both sides derive one key, a third key cannot read or forge, and the
// datagram the messenger carries holds no plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, hkdfSync } from 'node:crypto';
import { generateKeyPair, keyPairFromSecret } from '../../src/net/keys.js';
import { deriveChatKey, hkdfSha256, openDatagram, sealDatagram } from '../../src/apps/chat/crypto.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the HKDF the chat uses gives RFC 5869 test case 1 (HKDF-SHA256)', () => {
  const okm = hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
  assert.equal(okm.toString('hex'), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
});

test('the chat key matches a fixed vector and an independent derivation (node:crypto ECDH + hkdfSync)', () => {
  // Secrets 1 and 2: public keys G and 2G, whose shared x coordinate is that of 2G (published constants).
  const one = keyPairFromSecret(hex('00'.repeat(31) + '01'));
  const two = keyPairFromSecret(hex('00'.repeat(31) + '02'));
  assert.equal(one.publicKey.toString('hex'), '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
  assert.equal(two.publicKey.toString('hex'), '02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5');
  const fixed = '49508dfc8f6643dbf834a4c599611a9a2673ccab0a6351d370e53e3ac0199106';
  assert.equal(deriveChatKey(one.secretKey, one.publicKey, two.publicKey).toString('hex'), fixed);
  assert.equal(deriveChatKey(two.secretKey, two.publicKey, one.publicKey).toString('hex'), fixed);

  // Random pairs: the key as docs/chat.md defines it, computed without the chat's code or @noble/curves.
  for (let i = 0; i < 5; i++) {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(a.secretKey);
    const x = ecdh.computeSecret(b.publicKey);
    const [lo, hi] = Buffer.compare(a.publicKey, b.publicKey) <= 0 ? [a.publicKey, b.publicKey] : [b.publicKey, a.publicKey];
    const expected = Buffer.from(hkdfSync('sha256', x, 'skywire-chat-v1', Buffer.concat([Buffer.from('chat key'), lo, hi]), 32));
    assert.deepEqual(deriveChatKey(a.secretKey, a.publicKey, b.publicKey), expected);
  }
});
import { parseContactKey } from '../../src/apps/chat/app.js';

test('alice and bob derive the same key; only they can open a datagram, and only in its direction', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const eve = generateKeyPair();
  const kab = deriveChatKey(a.secretKey, a.publicKey, b.publicKey);
  assert.deepEqual(kab, deriveChatKey(b.secretKey, b.publicKey, a.publicKey));
  assert.notDeepEqual(kab, deriveChatKey(eve.secretKey, eve.publicKey, b.publicKey));

  const text = Buffer.from(JSON.stringify({ t: 'msg', text: 'meet at noon' }));
  const sealed = sealDatagram(kab, a.publicKey, b.publicKey, text);
  assert.equal(sealed.includes(Buffer.from('noon')), false, 'no plaintext on the wire');
  assert.notDeepEqual(sealed, sealDatagram(kab, a.publicKey, b.publicKey, text), 'a fresh nonce each time');
  assert.deepEqual(openDatagram(kab, a.publicKey, b.publicKey, sealed), text);

  // Reflected back to its sender, or opened with another key, or altered: rejected.
  assert.throws(() => openDatagram(kab, b.publicKey, a.publicKey, sealed));
  assert.throws(() => openDatagram(deriveChatKey(eve.secretKey, eve.publicKey, a.publicKey), a.publicKey, b.publicKey, sealed));
  const flipped = Buffer.from(sealed);
  flipped[flipped.length - 20] ^= 1;
  assert.throws(() => openDatagram(kab, a.publicKey, b.publicKey, flipped));
  assert.throws(() => openDatagram(kab, a.publicKey, b.publicKey, Buffer.from('SKC1short')), /not a chat datagram/);
});

test('contact keys are checked with a clear message', () => {
  const pk = generateKeyPair().publicKey.toString('hex');
  assert.equal(parseContactKey(` ${pk.toUpperCase()} `), pk);
  assert.throws(() => parseContactKey('abc'), /not a public key: expected 66 hex characters/);
  assert.throws(() => parseContactKey('zz' + pk.slice(2)), /66 hex characters/);
  assert.throws(() => parseContactKey('05' + pk.slice(2)), /not a valid secp256k1 public key/);
});
