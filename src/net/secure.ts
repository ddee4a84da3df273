// The BOLT #8 secure channel over any Duplex (a TCP socket, a relayed stream): the handshake, then a Duplex of
// plaintext whose writes become encrypted messages of at most 65535 bytes. Backpressure holds both ways, and
// after any failure (bad tag, truncated stream) the channel is destroyed without releasing another byte.
import { Duplex } from 'node:stream';
import { type KeyPair, isValidPublicKey, shortPk } from './keys.js';
import {
  ACT_ONE_BYTES,
  ACT_THREE_BYTES,
  ACT_TWO_BYTES,
  Handshake,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeResult,
} from './handshake.js';
import { MAX_MESSAGE_BYTES, MessageDecoder, MessageEncryptor, MessageError, type MessageCipherName } from './message-cipher.js';
import type { CipherNegotiation } from './e2e-cipher.js';
import { coalesces, forEachGroup } from './batching.js';

export { HandshakeError, type HandshakeErrorCode } from './handshake.js';
export { MessageError, MAX_MESSAGE_BYTES } from './message-cipher.js';

export const DEFAULT_PROLOGUE = 'skywire';
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long listenSecure waits for act 1: an initiator sends it as soon as it connects. */
export const DEFAULT_ACT1_TIMEOUT_MS = 3_000;

export interface SecureOptions {
  localKey: KeyPair;
  /** Mixed into the handshake hash; both sides must agree. 'skywire' by default ('lightning' for the vectors). */
  prologue?: string;
  /** The whole handshake must finish within this time (default 10 s), else it fails with code TIMEOUT. */
  handshakeTimeoutMs?: number;
  /** Responder only: act 1 must arrive within this time (default: no limit but handshakeTimeoutMs), so that
   *  connections that send nothing give their place back quickly. */
  act1TimeoutMs?: number;
  /** End-to-end channels over a route only (never a transport: BOLT #8 fixes ChaCha20-Poly1305 there): negotiate
   *  AES-256-GCM with the peer (e2e-cipher.ts, message-cipher.ts). */
  cipherNegotiation?: CipherNegotiation;
  /** Only for the BOLT #8 test vectors, which fix the ephemeral key. Never set it otherwise. */
  ephemeralKeyForTests?: KeyPair;
}

const WRITE_AHEAD_BYTES = 256 * 1024;
// Plaintext buffered for the reader before the transport is paused: big enough to take a few whole messages
// without pausing and resuming the socket for each one.
const READ_BUFFER_BYTES = 256 * 1024;

export class SecureChannel extends Duplex {
  readonly remotePublicKey: Buffer;
  readonly localPublicKey: Buffer;
  private readonly stream: Duplex;
  private readonly encryptor: MessageEncryptor;
  private readonly decoder: MessageDecoder;
  private gotEof = false;
  private drainWaiter: (() => void) | undefined;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private flushScheduled = false;
  private needDrain = false;
  private readonly preferAes: boolean;

  /** Built by secureConnect / secureAccept once the handshake has succeeded. */
  constructor(stream: Duplex, keys: HandshakeResult, localPublicKey: Buffer, leftover?: Buffer, negotiation?: CipherNegotiation) {
    super({ allowHalfOpen: stream.allowHalfOpen !== false, readableHighWaterMark: READ_BUFFER_BYTES });
    this.stream = stream;
    this.remotePublicKey = keys.remotePublicKey;
    this.localPublicKey = localPublicKey;
    this.encryptor = new MessageEncryptor(keys.sendKey, keys.chainingKey);
    this.preferAes = negotiation?.negotiate === true && negotiation.preferAes;
    this.decoder = new MessageDecoder(keys.recvKey, keys.chainingKey, negotiation?.negotiate === true, this.preferAes);
    // Our offer is our first message, before anything the peer sent can make us switch.
    if (this.preferAes) for (const b of this.encryptor.marker()) stream.write(b);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    stream.on('drain', this.onDrain);
    if (leftover && leftover.length) this.onData(leftover);
    if (stream.readableEnded) this.onEnd();
    if (stream.destroyed) process.nextTick(this.onClose);
  }

  /** The AEAD of each direction now (both ChaCha20-Poly1305 until a negotiation switched them). */
  get cipher(): { send: MessageCipherName; receive: MessageCipherName } {
    return { send: this.encryptor.algorithm, receive: this.decoder.algorithm };
  }

  /** The peer offered AES and so do we: send the switch marker; pending and later writes are AES-256-GCM. */
  private maybeSwitch(): void {
    if (!this.preferAes || this.encryptor.algorithm === 'aes-256-gcm' || this.decoder.peerNegotiation === 'first') return;
    if (this.decoder.peerNegotiation === 'none' || this.stream.destroyed || this.stream.writableEnded) return;
    for (const b of this.encryptor.switchToAes()) this.stream.write(b);
  }

  /** The underlying stream (e.g. to read a socket's addresses). */
  get transport(): Duplex {
    return this.stream;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.destroyed) return;
    let plain: Buffer[];
    try {
      plain = this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.maybeSwitch();
    let more = true;
    for (const p of plain) more = this.push(p) && more;
    if (!more) this.stream.pause();
  };

  private readonly onEnd = (): void => {
    if (this.destroyed || this.gotEof) return;
    this.gotEof = true;
    if (this.decoder.midMessage) {
      this.destroy(new MessageError('TRUNCATED', 'secure channel: connection closed in the middle of a message'));
      return;
    }
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onClose = (): void => {
    this.onDrain();
    if (this.destroyed) return;
    // After a clean EOF, let the reader drain what is buffered before closing; otherwise the peer is gone.
    if (this.gotEof && !this.readableEnded) this.once('end', () => this.destroy());
    else this.destroy();
  };

  private readonly onDrain = (): void => {
    this.needDrain = false;
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  };

  override _read(): void {
    if (this.stream.isPaused()) this.stream.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.send(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private send(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.stream.destroyed || this.stream.writableEnded) {
      cb(new Error('secure channel: connection closed'));
      return;
    }
    for (const b of bufs) {
      if (b.length === 0) continue;
      this.pending.push(b);
      this.pendingLen += b.length;
    }
    // Full messages go out now; a small tail waits until the end of this tick so that several small writes
    // (a header, then a body) share one message instead of paying 34 bytes and two cipher calls each.
    if (this.pendingLen >= MAX_MESSAGE_BYTES) this.flush();
    else if (this.pendingLen > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushSoon);
    }
    if (!this.needDrain) cb();
    else this.drainWaiter = () => cb(this.stream.destroyed ? new Error('secure channel: connection closed') : null);
  }

  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    if (this.pendingLen > 0) this.flush();
  };

  /** Encrypts everything pending into messages of at most 65535 bytes and writes them in one corked batch. */
  private flush(): void {
    const bufs = this.pending;
    this.pending = [];
    this.pendingLen = 0;
    if (this.stream.destroyed || this.stream.writableEnded) return;
    const out: Buffer[] = [];
    // Many small pieces of one message are copied together first: one copy beats one cipher call (and one iovec)
    // per piece (batching.ts).
    forEachGroup(bufs, MAX_MESSAGE_BYTES, (group, len) =>
      this.encryptor.encrypt(coalesces(len, group.length) ? Buffer.concat(group, len) : group, out),
    );
    let ok = true;
    this.stream.cork();
    for (const o of out) ok = this.stream.write(o);
    this.stream.uncork();
    // Keep encrypting ahead while the transport holds less than WRITE_AHEAD_BYTES, so the cipher works while the
    // kernel sends; past that, wait for the transport to drain (bounded memory, real backpressure).
    if (!ok && this.stream.writableLength >= WRITE_AHEAD_BYTES) this.needDrain = true;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.pendingLen > 0) this.flush();
    // Finish only once the transport has flushed, so an auto-destroy after both ends cannot drop our last bytes.
    if (this.stream.destroyed || this.stream.writableFinished) cb();
    else this.stream.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onClose);
    this.stream.off('drain', this.onDrain);
    // onError stays attached: errors the stream may still report must not become uncaught exceptions.
    this.stream.destroy();
    this.onDrain();
    cb(err);
  }
}

/** Reads exact-size handshake acts from a stream; what arrives after the last act is handed to the channel. */
class ActReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private want: { n: number; code: HandshakeErrorCode; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly describeClose: (code: HandshakeErrorCode) => string,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    if (stream.isPaused()) stream.resume();
  }

  read(n: number, code: HandshakeErrorCode): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.want = { n, code, resolve, reject };
      this.check();
    });
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.check();
  }

  /** Stops reading and returns the bytes received beyond the acts. Error listener stays (see SecureChannel). */
  detach(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.check();
  };

  private readonly onEnd = (): void => {
    this.failure ??= new Error('closed');
    this.check();
  };

  private readonly onError = (err: Error): void => {
    this.failure ??= new HandshakeError('CLOSED', `connection failed during the handshake: ${err.message}`);
    this.check();
  };

  private check(): void {
    const w = this.want;
    if (!w) return;
    if (this.buffered >= w.n) {
      this.want = undefined;
      const all = Buffer.concat(this.chunks, this.buffered);
      const act = all.subarray(0, w.n);
      this.chunks = all.length > w.n ? [all.subarray(w.n)] : [];
      this.buffered -= w.n;
      w.resolve(act);
    } else if (this.failure) {
      this.want = undefined;
      const f = this.failure;
      w.reject(f instanceof HandshakeError ? f : new HandshakeError(w.code, this.describeClose(w.code)));
    }
  }
}

async function runHandshake(
  stream: Duplex,
  o: SecureOptions,
  label: string,
  describeClose: (code: HandshakeErrorCode) => string,
  steps: (reader: ActReader) => Promise<HandshakeResult>,
): Promise<SecureChannel> {
  const timeoutMs = o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const reader = new ActReader(stream, describeClose);
  const timer = setTimeout(() => {
    reader.fail(new HandshakeError('TIMEOUT', `the handshake did not complete within ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    const keys = await steps(reader);
    const leftover = reader.detach();
    return new SecureChannel(stream, keys, o.localKey.publicKey, leftover, o.cipherNegotiation);
  } catch (err) {
    stream.destroy();
    const e = err instanceof HandshakeError ? err : new HandshakeError('STATE', (err as Error).message);
    e.message = `${label}: ${e.message}`;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the initiator side of the handshake over `stream` (a connected Duplex) to the owner of `remotePk`. */
export async function secureConnect(stream: Duplex, remotePk: Buffer, o: SecureOptions): Promise<SecureChannel> {
  if (!Buffer.isBuffer(remotePk) || !isValidPublicKey(remotePk)) {
    stream.destroy();
    throw new Error('secureConnect: the remote public key must be a 33-byte compressed secp256k1 point');
  }
  const hs = new Handshake('initiator', o.localKey, {
    remotePublicKey: remotePk,
    prologue: o.prologue ?? DEFAULT_PROLOGUE,
    ephemeral: o.ephemeralKeyForTests,
  });
  const who = shortPk(remotePk);
  return runHandshake(
    stream,
    o,
    `secure handshake with ${who} failed`,
    () => `the peer closed the connection before act 2 (is ${who}... the right public key for this address, and the prologue the same?)`,
    async (reader) => {
      stream.write(hs.act1());
      hs.readAct2(await reader.read(ACT_TWO_BYTES, 'ACT2_READ_FAILED'));
      stream.write(hs.act3());
      return hs.result();
    },
  );
}

/** Runs the responder side of the handshake; the channel's remotePublicKey is the initiator's, authenticated. */
export async function secureAccept(stream: Duplex, o: SecureOptions): Promise<SecureChannel> {
  const hs = new Handshake('responder', o.localKey, { prologue: o.prologue ?? DEFAULT_PROLOGUE, ephemeral: o.ephemeralKeyForTests });
  return runHandshake(
    stream,
    o,
    'secure handshake (responder) failed',
    (code) => `the peer closed the connection before a complete act ${code === 'ACT1_READ_FAILED' ? 1 : 3}`,
    async (reader) => {
      const act1Ms = o.act1TimeoutMs;
      const act1Timer =
        act1Ms === undefined
          ? undefined
          : setTimeout(() => reader.fail(new HandshakeError('TIMEOUT', `act 1 did not arrive within ${act1Ms} ms`)), act1Ms);
      try {
        hs.readAct1(await reader.read(ACT_ONE_BYTES, 'ACT1_READ_FAILED'));
      } finally {
        clearTimeout(act1Timer);
      }
      stream.write(hs.act2());
      hs.readAct3(await reader.read(ACT_THREE_BYTES, 'ACT3_READ_FAILED'));
      return hs.result();
    },
  );
}
