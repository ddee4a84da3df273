// BOLT #8 handshake (Noise_XK_secp256k1_ChaChaPoly_SHA256), as pure state transitions on byte arrays so the
// Appendix A vectors can drive it directly. The socket side lives in secure.ts.
import { createHash } from 'node:crypto';
import { type KeyPair, generateKeyPair, isValidPublicKey } from './keys.js';
import { sharedPoint } from './secp256k1.js';
import { decryptWithAD, encryptWithAD, hkdf } from './noise-crypto.js';

export const PROTOCOL_NAME = 'Noise_XK_secp256k1_ChaChaPoly_SHA256';
export const ACT_ONE_BYTES = 50;
export const ACT_TWO_BYTES = 50;
export const ACT_THREE_BYTES = 66;
const VERSION = 0;

/** Codes follow the names of the BOLT #8 test vectors, plus TIMEOUT / CLOSED for the socket side. */
export type HandshakeErrorCode =
  | 'ACT1_READ_FAILED'
  | 'ACT1_BAD_VERSION'
  | 'ACT1_BAD_PUBKEY'
  | 'ACT1_BAD_TAG'
  | 'ACT2_READ_FAILED'
  | 'ACT2_BAD_VERSION'
  | 'ACT2_BAD_PUBKEY'
  | 'ACT2_BAD_TAG'
  | 'ACT3_READ_FAILED'
  | 'ACT3_BAD_VERSION'
  | 'ACT3_BAD_CIPHERTEXT'
  | 'ACT3_BAD_PUBKEY'
  | 'ACT3_BAD_TAG'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'STATE';

export class HandshakeError extends Error {
  constructor(
    readonly code: HandshakeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

export interface HandshakeResult {
  /** Key for messages we send, and the chaining key that rotates it. */
  sendKey: Buffer;
  /** Key for messages we receive. */
  recvKey: Buffer;
  /** Final chaining key (both rotation chains start from it). */
  chainingKey: Buffer;
  remotePublicKey: Buffer;
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * ECDH as BOLT #8 defines it: SHA-256 of the compressed shared point (the whole point from one OpenSSL
 * multiplication when node has secp256k1, see secp256k1.ts; else @noble/curves). Throws on an invalid public key.
 */
export function ecdh(secretKey: Uint8Array, publicKey: Uint8Array): Buffer {
  return sha256(sharedPoint(secretKey, publicKey));
}

type Step = 'act1' | 'act2' | 'act3' | 'done';

/**
 * One side of one handshake. Initiator: act1() -> readAct2(m) -> act3(). Responder: readAct1(m) -> act2() ->
 * readAct3(m). Then result(). `ephemeral` is only for the test vectors; normally it is fresh and random.
 */
export class Handshake {
  private h: Buffer;
  private ck: Buffer;
  private tempK2: Buffer | undefined;
  private readonly e: KeyPair;
  private re: Buffer | undefined;
  private rs: Buffer | undefined;
  private step: Step = 'act1';
  private res: HandshakeResult | undefined;

  constructor(
    readonly role: 'initiator' | 'responder',
    private readonly ls: KeyPair,
    opts: { remotePublicKey?: Buffer; prologue?: string; ephemeral?: KeyPair } = {},
  ) {
    const prologue = opts.prologue ?? 'skywire';
    this.e = opts.ephemeral ?? generateKeyPair();
    this.ck = sha256(Buffer.from(PROTOCOL_NAME, 'ascii'));
    this.h = sha256(this.ck, Buffer.from(prologue, 'ascii'));
    if (role === 'initiator') {
      const rs = opts.remotePublicKey;
      if (!rs || !isValidPublicKey(rs)) throw new Error('the initiator needs the responder\'s 33-byte compressed public key');
      this.rs = Buffer.from(rs);
      this.h = sha256(this.h, rs);
    } else {
      this.h = sha256(this.h, ls.publicKey);
    }
  }

  private expect(role: 'initiator' | 'responder', step: Step): void {
    if (this.role !== role || this.step !== step) {
      throw new HandshakeError('STATE', `handshake step ${step} is not valid now (${this.role}, at ${this.step})`);
    }
  }

  // ---- act one: -> e, es ----
  act1(): Buffer {
    this.expect('initiator', 'act1');
    this.h = sha256(this.h, this.e.publicKey);
    const es = ecdh(this.e.secretKey, this.rs!);
    const [ck, tempK1] = hkdf(this.ck, es);
    this.ck = ck;
    const c = encryptWithAD(tempK1, 0, this.h, Buffer.alloc(0));
    this.h = sha256(this.h, c);
    this.step = 'act2';
    return Buffer.concat([Buffer.from([VERSION]), this.e.publicKey, c]);
  }

  readAct1(m: Buffer): void {
    this.expect('responder', 'act1');
    const re = this.readEphemeral(m, 1, ACT_ONE_BYTES);
    this.h = sha256(this.h, re);
    const es = ecdh(this.ls.secretKey, re);
    const [ck, tempK1] = hkdf(this.ck, es);
    this.ck = ck;
    const c = m.subarray(34, 50);
    if (!decryptWithAD(tempK1, 0, this.h, c)) {
      throw new HandshakeError('ACT1_BAD_TAG', 'act 1 MAC check failed: the initiator does not know our public key');
    }
    this.h = sha256(this.h, c);
    this.re = re;
    this.step = 'act2';
  }

  // ---- act two: <- e, ee ----
  act2(): Buffer {
    this.expect('responder', 'act2');
    this.h = sha256(this.h, this.e.publicKey);
    const ee = ecdh(this.e.secretKey, this.re!);
    const [ck, tempK2] = hkdf(this.ck, ee);
    this.ck = ck;
    this.tempK2 = tempK2;
    const c = encryptWithAD(tempK2, 0, this.h, Buffer.alloc(0));
    this.h = sha256(this.h, c);
    this.step = 'act3';
    return Buffer.concat([Buffer.from([VERSION]), this.e.publicKey, c]);
  }

  readAct2(m: Buffer): void {
    this.expect('initiator', 'act2');
    const re = this.readEphemeral(m, 2, ACT_TWO_BYTES);
    this.h = sha256(this.h, re);
    const ee = ecdh(this.e.secretKey, re);
    const [ck, tempK2] = hkdf(this.ck, ee);
    this.ck = ck;
    this.tempK2 = tempK2;
    const c = m.subarray(34, 50);
    if (!decryptWithAD(tempK2, 0, this.h, c)) {
      throw new HandshakeError('ACT2_BAD_TAG', 'act 2 MAC check failed');
    }
    this.h = sha256(this.h, c);
    this.re = re;
    this.step = 'act3';
  }

  // ---- act three: -> s, se ----
  act3(): Buffer {
    this.expect('initiator', 'act3');
    const c = encryptWithAD(this.tempK2!, 1, this.h, this.ls.publicKey);
    this.h = sha256(this.h, c);
    const se = ecdh(this.ls.secretKey, this.re!);
    const [ck, tempK3] = hkdf(this.ck, se);
    this.ck = ck;
    const t = encryptWithAD(tempK3, 0, this.h, Buffer.alloc(0));
    const [sk, rk] = hkdf(this.ck, Buffer.alloc(0));
    this.finish(sk, rk, this.rs!);
    return Buffer.concat([Buffer.from([VERSION]), c, t]);
  }

  readAct3(m: Buffer): void {
    this.expect('responder', 'act3');
    if (m.length !== ACT_THREE_BYTES) {
      throw new HandshakeError('ACT3_READ_FAILED', `act 3 must be ${ACT_THREE_BYTES} bytes, got ${m.length}`);
    }
    if (m[0] !== VERSION) throw new HandshakeError('ACT3_BAD_VERSION', `act 3 has unknown handshake version ${m[0]}`);
    const c = m.subarray(1, 50);
    const t = m.subarray(50, 66);
    const rs = decryptWithAD(this.tempK2!, 1, this.h, c);
    if (!rs) throw new HandshakeError('ACT3_BAD_CIPHERTEXT', 'act 3 MAC check of the initiator\'s encrypted key failed');
    if (!isValidPublicKey(rs)) throw new HandshakeError('ACT3_BAD_PUBKEY', 'act 3 carries an invalid initiator public key');
    this.h = sha256(this.h, c);
    const se = ecdh(this.e.secretKey, rs);
    const [ck, tempK3] = hkdf(this.ck, se);
    this.ck = ck;
    if (!decryptWithAD(tempK3, 0, this.h, t)) {
      throw new HandshakeError('ACT3_BAD_TAG', 'act 3 final MAC check failed: the initiator does not hold its key');
    }
    const [rk, sk] = hkdf(this.ck, Buffer.alloc(0));
    this.finish(sk, rk, Buffer.from(rs));
  }

  private readEphemeral(m: Buffer, act: 1 | 2, size: number): Buffer {
    const tag = `ACT${act}` as 'ACT1' | 'ACT2';
    if (m.length !== size) throw new HandshakeError(`${tag}_READ_FAILED`, `act ${act} must be ${size} bytes, got ${m.length}`);
    if (m[0] !== VERSION) throw new HandshakeError(`${tag}_BAD_VERSION`, `act ${act} has unknown handshake version ${m[0]}`);
    const re = m.subarray(1, 34);
    if (!isValidPublicKey(re)) throw new HandshakeError(`${tag}_BAD_PUBKEY`, `act ${act} carries an invalid ephemeral public key`);
    return Buffer.from(re);
  }

  private finish(sk: Buffer, rk: Buffer, rs: Buffer): void {
    this.res = { sendKey: sk, recvKey: rk, chainingKey: this.ck, remotePublicKey: rs };
    this.step = 'done';
    this.tempK2 = undefined;
  }

  get done(): boolean {
    return this.step === 'done';
  }

  result(): HandshakeResult {
    if (!this.res) throw new HandshakeError('STATE', 'handshake is not complete');
    return this.res;
  }
}
