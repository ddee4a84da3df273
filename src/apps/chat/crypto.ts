// End-to-end encryption of chat datagrams, so the messenger that relays them sees only ciphertext.
// Key: HKDF-SHA256 over the x coordinate of secp256k1 ECDH between the two identities (the same key in
// both directions); each datagram: ChaCha20-Poly1305 with a random 96-bit nonce, the sender's and the
// recipient's public keys as associated data (a datagram cannot be replayed to someone else or reflected).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';

/** Datagram layout: MAGIC (4) | nonce (12) | ciphertext | tag (16). */
export const MAGIC = Buffer.from('SKC1');
const NONCE = 12;
const TAG = 16;
const SALT = Buffer.from('skywire-chat-v1');

/** HKDF-SHA256 (RFC 5869), the derivation the chat key uses. */
export function hkdfSha256(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

export function deriveChatKey(mySecret: Buffer, myPk: Buffer, theirPk: Buffer): Buffer {
  const shared = Buffer.from(secp256k1.getSharedSecret(mySecret, theirPk, true).subarray(1)); // x coordinate
  // Both sides must build the same info: the two keys in a fixed (sorted) order.
  const [a, b] = Buffer.compare(myPk, theirPk) <= 0 ? [myPk, theirPk] : [theirPk, myPk];
  return hkdfSha256(shared, SALT, Buffer.concat([Buffer.from('chat key'), a, b]), 32);
}

export function sealDatagram(key: Buffer, from: Buffer, to: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  c.setAAD(Buffer.concat([from, to]), { plaintextLength: plaintext.length });
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([MAGIC, nonce, body, c.getAuthTag()]);
}

/** Returns the plaintext, or throws if the datagram is not a chat datagram or fails authentication. */
export function openDatagram(key: Buffer, from: Buffer, to: Buffer, data: Buffer): Buffer {
  if (data.length < MAGIC.length + NONCE + TAG || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not a chat datagram');
  }
  const nonce = data.subarray(MAGIC.length, MAGIC.length + NONCE);
  const body = data.subarray(MAGIC.length + NONCE, data.length - TAG);
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  d.setAAD(Buffer.concat([from, to]), { plaintextLength: body.length });
  d.setAuthTag(data.subarray(data.length - TAG));
  return Buffer.concat([d.update(body), d.final()]);
}
