// BOLT #8 messages after the handshake: an encrypted 2-byte big-endian length (2 + 16 tag = 18 bytes), then the
// encrypted body (len + 16 tag). Each direction has its own key and nonce; a key is rotated with its chaining key
// after 1000 uses (500 messages). Decryption is streaming (no copy of the ciphertext) but plaintext is released
// only after its tag has verified.
//
// The end-to-end channel over a route may switch a direction to AES-256-GCM (negotiated with empty messages,
// which a decoder that does not negotiate verifies and ignores; see Negotiation below and docs/net.md).
import {
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  createCipheriv,
  createDecipheriv,
  createHmac,
} from 'node:crypto';
import { TAG_BYTES, hkdf, setNonce } from './noise-crypto.js';

export const MAX_MESSAGE_BYTES = 65535;
export const LENGTH_PREFIX_BYTES = 2 + TAG_BYTES;
/** Wire overhead of one message: encrypted length + body tag. */
export const MESSAGE_OVERHEAD_BYTES = LENGTH_PREFIX_BYTES + TAG_BYTES;
const ROTATE_AFTER = 1000;

export type MessageErrorCode = 'BAD_LENGTH_TAG' | 'BAD_TAG' | 'TRUNCATED' | 'TOO_LARGE';

export class MessageError extends Error {
  constructor(
    readonly code: MessageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MessageError';
  }
}

export type MessageCipherName = 'chacha20-poly1305' | 'aes-256-gcm';
const AES_KEY_LABEL = Buffer.from('skywire e2e aes-256-gcm', 'ascii');

/**
 * A key with its nonce counter and chaining key, rotated as the spec says. Both ciphers take the same 96-bit
 * nonce (4 zero bytes, 64-bit counter); a key never sees a counter twice, and each key is used by one cipher only.
 */
class KeyState {
  private n = 0;
  private readonly nonce = Buffer.alloc(12);
  algorithm: MessageCipherName = 'chacha20-poly1305';

  constructor(
    private key: Buffer,
    private ck: Buffer,
  ) {}

  cipher(): CipherChaCha20Poly1305 | CipherGCM {
    const iv = setNonce(this.nonce, this.n);
    if (this.algorithm === 'aes-256-gcm') return createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    return createCipheriv('chacha20-poly1305', this.key, iv, { authTagLength: TAG_BYTES });
  }

  decipher(): DecipherChaCha20Poly1305 | DecipherGCM {
    const iv = setNonce(this.nonce, this.n);
    if (this.algorithm === 'aes-256-gcm') return createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    return createDecipheriv('chacha20-poly1305', this.key, iv, { authTagLength: TAG_BYTES });
  }

  /**
   * From the next message on, AES-256-GCM under a fresh key derived from this direction's chain (so it depends on
   * the whole handshake and every message so far) with a label (so no ChaCha20 key is ever reused for AES), and
   * the counter back at 0. Both ends call it at the same message, so they derive the same key.
   */
  switchToAes(): void {
    const [ck, k] = hkdf(this.ck, createHmac('sha256', this.key).update(AES_KEY_LABEL).digest());
    this.ck = ck;
    this.key = k;
    this.n = 0;
    this.algorithm = 'aes-256-gcm';
  }

  /** Called after each use of the current nonce. */
  advance(): void {
    if (++this.n === ROTATE_AFTER) {
      const [ck, k] = hkdf(this.ck, this.key);
      this.ck = ck;
      this.key = k;
      this.n = 0;
    }
  }
}

export class MessageEncryptor {
  private readonly state: KeyState;
  private readonly lenBuf = Buffer.alloc(2);

  constructor(key: Buffer, chainingKey: Buffer) {
    this.state = new KeyState(key, chainingKey);
  }

  get algorithm(): MessageCipherName {
    return this.state.algorithm;
  }

  /** Negotiation: an empty message (this end's offer of AES, or its switch marker), wire buffers into `out`. */
  marker(out: Buffer[] = []): Buffer[] {
    return this.encrypt([], out);
  }

  /** Sends the switch marker with the current cipher; every later message is AES-256-GCM. */
  switchToAes(out: Buffer[] = []): Buffer[] {
    this.encrypt([], out);
    this.state.switchToAes();
    return out;
  }

  /**
   * Encrypts one message given as one or more pieces (total <= 65535 bytes) and appends its wire buffers to
   * `out`: the 18-byte encrypted length, the encrypted pieces, the 16-byte tag. Pieces are not copied.
   */
  encrypt(pieces: Buffer | Buffer[], out: Buffer[] = []): Buffer[] {
    const list = Array.isArray(pieces) ? pieces : [pieces];
    let len = 0;
    for (const p of list) len += p.length;
    if (len > MAX_MESSAGE_BYTES) throw new MessageError('TOO_LARGE', `message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    this.lenBuf.writeUInt16BE(len, 0);
    const lc = this.state.cipher();
    const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
    lc.update(this.lenBuf).copy(prefix, 0);
    lc.final();
    lc.getAuthTag().copy(prefix, 2);
    this.state.advance();
    out.push(prefix);
    const c = this.state.cipher();
    for (const p of list) if (p.length) out.push(c.update(p));
    c.final();
    out.push(c.getAuthTag());
    this.state.advance();
    return out;
  }

  /** One message as a single buffer (for tests and small control messages). */
  encryptToBuffer(message: Buffer): Buffer {
    return Buffer.concat(this.encrypt(message));
  }
}

/**
 * Negotiation (end-to-end channel only): an empty message is never sent as data. The first message of a
 * direction being empty means "I offer AES-256-GCM" (its receiver may switch its own sending direction); a later
 * empty message after that offer is the switch marker (every message after it is AES-256-GCM). Both are
 * authenticated and counted like any message, so a hop that drops, adds or alters one breaks the channel.
 */
export type NegotiationState = 'first' | 'offered' | 'none' | 'switched';

export class MessageDecoder {
  private readonly state: KeyState;
  private peer: NegotiationState = 'first';
  private bodyLen = 0;
  private readonly prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  private readonly tag = Buffer.alloc(TAG_BYTES);
  private prefixFill = 0;
  private inBody = false;
  private bodyLeft = 0;
  private tagFill = 0;
  private decipher: DecipherChaCha20Poly1305 | DecipherGCM | undefined;
  private plain: Buffer[] = [];
  private failed: MessageError | undefined;

  /**
   * `negotiate` false: empty messages are verified and ignored, as a decoder from before the negotiation did.
   * `acceptAes`: this end offered AES, so it follows the peer's switch marker (else a marker is ignored, and AES
   * messages after it fail to verify: an end that did not offer never decrypts AES).
   */
  constructor(
    key: Buffer,
    chainingKey: Buffer,
    private readonly negotiate = false,
    private readonly acceptAes = false,
  ) {
    this.state = new KeyState(key, chainingKey);
  }

  get algorithm(): MessageCipherName {
    return this.state.algorithm;
  }

  /** What the peer said so far: `offered` once its first message was its AES offer. */
  get peerNegotiation(): NegotiationState {
    return this.peer;
  }

  /** True when bytes of an unfinished message are held (a stream ending now would be truncated). */
  get midMessage(): boolean {
    return this.inBody || this.prefixFill > 0;
  }

  /**
   * Adds ciphertext bytes; returns the plaintext of every message they complete, each verified. Throws a
   * MessageError on a bad tag (and keeps throwing after that: the stream is dead).
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    const out: Buffer[] = [];
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (!this.inBody) {
        const k = Math.min(LENGTH_PREFIX_BYTES - this.prefixFill, end - off);
        chunk.copy(this.prefix, this.prefixFill, off, off + k);
        this.prefixFill += k;
        off += k;
        if (this.prefixFill < LENGTH_PREFIX_BYTES) break;
        this.prefixFill = 0;
        const d = this.state.decipher();
        d.setAuthTag(this.prefix.subarray(2));
        const len = d.update(this.prefix.subarray(0, 2));
        try {
          d.final();
        } catch {
          throw this.fail('BAD_LENGTH_TAG', 'secure channel: message length failed authentication (corrupted or forged data)');
        }
        this.state.advance();
        this.bodyLeft = len.readUInt16BE(0);
        this.bodyLen = this.bodyLeft;
        this.decipher = this.state.decipher();
        this.inBody = true;
        this.tagFill = 0;
        continue;
      }
      if (this.bodyLeft > 0) {
        const k = Math.min(this.bodyLeft, end - off);
        const p = this.decipher!.update(off === 0 && k === end ? chunk : chunk.subarray(off, off + k));
        if (p.length) this.plain.push(p);
        this.bodyLeft -= k;
        off += k;
        continue;
      }
      const k = Math.min(TAG_BYTES - this.tagFill, end - off);
      chunk.copy(this.tag, this.tagFill, off, off + k);
      this.tagFill += k;
      off += k;
      if (this.tagFill < TAG_BYTES) break;
      const d = this.decipher!;
      this.decipher = undefined;
      d.setAuthTag(this.tag);
      try {
        d.final();
      } catch {
        this.plain = [];
        throw this.fail('BAD_TAG', 'secure channel: message failed authentication (corrupted or forged data)');
      }
      this.state.advance();
      for (const p of this.plain) out.push(p);
      this.plain = [];
      this.inBody = false;
      if (this.negotiate) this.noteMessage();
    }
    return out;
  }

  /** After a verified message: the negotiation steps (the switch happens before the next message is read). */
  private noteMessage(): void {
    const empty = this.bodyLen === 0;
    if (this.peer === 'first') this.peer = empty ? 'offered' : 'none';
    else if (this.peer === 'offered' && empty && this.acceptAes) {
      this.state.switchToAes();
      this.peer = 'switched';
    }
  }

  private fail(code: MessageErrorCode, message: string): MessageError {
    this.failed = new MessageError(code, message);
    this.plain = [];
    this.decipher = undefined;
    return this.failed;
  }
}
