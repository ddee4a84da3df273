// The chat's end-to-end encryption: both sides derive one key, a third key cannot read or forge, and the
// datagram the messenger carries holds no plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/net/keys.js';
import { deriveChatKey, openDatagram, sealDatagram } from '../../src/apps/chat/crypto.js';
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
