// The messenger server: clients connect over BOLT #8 and are known by the key they proved in act three.
// It keeps an entry per key, answers lookup/query, relays datagrams, and relays streams between two clients
// with per-stream credit: DATA is forwarded at once and only within the window the receiver granted, so the
// server never holds more than one window per stream direction and one slow reader holds back only its stream.
import { EventEmitter } from 'node:events';
import type { KeyPair } from '../net/keys.js';
import { pkToHex, shortPk } from '../net/keys.js';
import type { SecureChannel } from '../net/secure.js';
import { listenSecure } from '../net/tcp.js';
import { formatHostPort } from '../util/hostport.js';
import { createLogger, rateLimited } from '../util/log.js';
import {
  CODES,
  FRAME_HEADER_BYTES,
  MAX_DATA_PAYLOAD,
  OP,
  PK_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  T,
  type Frame,
  codeNumber,
  encodeDgram,
  encodeGoaway,
  encodeOpen,
  encodePing,
  encodeReset,
  encodeRes,
  encodeSidU32,
  jsonBuf,
  parseJson,
  type WireCode,
} from './protocol.js';
import { Registry } from './registry.js';
import { checkAnnounce, checkHello, checkQuery, type Announce } from './types.js';
import { Conn, pairHalves, type Half } from './conn.js';
import { grant, grantedBound, passHint, release, setCredit, type WindowLimits } from './credit.js';
import { Deferral } from './deferred.js';
import { MessengerError } from './errors.js';
import { Forwarder } from './forward.js';
import type { SharedDirectory } from './shared-directory.js';
import { noDelay } from './writer.js';

const log = createLogger('messenger');
// Any key (they cost nothing) can break the protocol at will: one line per interval, with a count.
const protocolErrors = rateLimited(log, 'warn', 'closing connection: protocol error');

export interface MessengerLimits extends WindowLimits {
  /** Largest datagram payload in bytes. */
  maxDatagram: number;
  /** Datagrams per second per connection (token bucket rate) and the burst it may save up. */
  datagramRate: number;
  datagramBurst: number;
  /** Requests (lookup, query, announce...) per second per connection and burst. */
  requestRate: number;
  requestBurst: number;
  /** Streams (open or opening) a connection may open; it may also carry up to 4 times that opened by others,
   *  so one peer opening many streams to a key cannot use up that key's room. */
  maxStreamsPerConn: number;
  // maxWindow, baseWindow, connWindow (credit.ts): what receivers may grant, per stream and per connection.
  /** Registered keys, online or in their grace period. */
  maxEntries: number;
  /** Bytes waiting to be written to one connection, beyond the stream data its windows allow, above which
   *  datagrams to it are refused ('congested') and its own requests are paused until it reads. */
  congestedBytes: number;
}

export const DEFAULT_LIMITS: MessengerLimits = {
  maxDatagram: 60 * 1024,
  datagramRate: 200,
  datagramBurst: 400,
  requestRate: 1000,
  requestBurst: 2000,
  maxStreamsPerConn: 256,
  maxWindow: 16 * 1024 * 1024,
  baseWindow: 1024 * 1024,
  connWindow: 32 * 1024 * 1024,
  maxEntries: 100_000,
  congestedBytes: 1024 * 1024,
};

export interface MessengerServerOptions {
  key: KeyPair;
  host?: string;
  port?: number;
  /** How long an entry outlives its connection, for reconnects (default 10 s). */
  graceMs?: number;
  /** A connection silent this long is closed; clients ping every 15 s (default 60 s). */
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  limits?: Partial<MessengerLimits>;
}

export class MessengerServer extends EventEmitter {
  readonly limits: MessengerLimits;
  private readonly registry: Registry;
  /** The live connection of each online key. */
  private readonly conns = new Map<string, Conn>();
  private readonly all = new Set<Conn>();
  private listener?: Awaited<ReturnType<typeof listenSecure>>;
  private idleTimer?: NodeJS.Timeout;
  private closing = false;
  /** What waits for connections that do not read (deferred.ts). */
  private readonly deferral = new Deferral(
    (c) => this.congested(c),
    (h) => {
      if (h.closed && h.peer.closed) this.unlink(h);
    },
  );
  /** With a shared registry: what waits on Redis or goes to other messengers. */
  private fwd?: Forwarder;

  constructor(private readonly o: MessengerServerOptions) {
    super();
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.registry = new Registry(o.graceMs ?? 10_000, this.limits.maxEntries, (pk) => {
      log.info('entry expired', { pk: shortPk(pk) });
      this.emit('unregister', pk);
    });
  }

  get publicKey(): Buffer {
    return this.o.key.publicKey;
  }

  async listen(): Promise<{ host: string; port: number }> {
    this.listener = await listenSecure(
      {
        localKey: this.o.key,
        host: this.o.host ?? '127.0.0.1',
        port: this.o.port ?? 0,
        handshakeTimeoutMs: this.o.handshakeTimeoutMs,
      },
      (ch) => this.accept(ch),
    );
    const idle = this.o.idleTimeoutMs ?? 60_000;
    this.idleTimer = setInterval(() => this.reapIdle(idle), Math.min(idle, 5000));
    this.idleTimer.unref();
    return this.listener.address();
  }

  address(): { host: string; port: number } {
    if (!this.listener) throw new Error('messenger is not listening');
    return this.listener.address();
  }

  /** `buffered`: bytes waiting to be written to connections (what the relay holds); `paused`: connections not
   *  read because they do not read what waits for them (congested). */
  stats(): { connections: number; entries: number; streams: number; buffered: number; paused: number } {
    let streams = 0;
    let buffered = 0;
    let paused = 0;
    for (const c of this.all) {
      streams += c.streams.size;
      buffered += c.writer.pending + this.deferral.heldBytes(c);
      if (c.ch.isPaused()) paused++;
    }
    return { connections: this.all.size, entries: this.registry.size, streams, buffered, paused };
  }

  /**
   * Joins a registry shared with other messengers (Redis): clients that said HELLO here are written there, and
   * lookups, queries, datagrams and stream opens for keys served by another messenger go through it.
   */
  useShared(dir: SharedDirectory): void {
    this.fwd = new Forwarder(dir, {
      limits: this.limits,
      key: this.o.key,
      client: (pk) => this.conns.get(pk),
      reply: (c, req, v) => this.reply(c, req, v),
      fail: (c, req, code, message) => this.fail(c, req, code, message),
      congested: (c) => this.congested(c),
      unlink: (h) => this.unlink(h),
      unregister: (c) => {
        if (this.conns.get(c.pkHex) === c) {
          this.conns.delete(c.pkHex);
          this.registry.remove(c.pkHex);
        }
        c.registered = false;
      },
      lookupLocal: (pk) => this.registry.lookup(pk),
      queryLocal: (q) => this.registry.query(q),
      adopt: (ch) => this.adopt(ch),
    });
  }

  /** The entries of the clients registered here now (what the shared registry refreshes). */
  *liveEntries(): Iterable<[string, Announce]> {
    for (const c of this.conns.values()) {
      if (!c.hello || c.gone) continue;
      const e = this.registry.lookup(c.pkHex);
      if (e) yield [c.pkHex, { addresses: e.addresses, services: e.services }];
    }
  }

  /** The entry of `pk` if it is a client registered here now (one key: no walk over every client). */
  liveEntry(pk: string): Announce | undefined {
    const c = this.conns.get(pk);
    if (!c || !c.hello || c.gone) return undefined;
    const e = this.registry.lookup(pk);
    return e ? { addresses: e.addresses, services: e.services } : undefined;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const c of [...this.all]) this.drop(c, 'shutdown', 'messenger is shutting down');
    await this.listener?.close();
    this.registry.clear();
    await this.fwd?.dir.close();
  }

  // ---- connections ---------------------------------------------------------------------------------------

  private accept(ch: SecureChannel): void {
    if (this.closing) {
      ch.destroy();
      return;
    }
    const c = this.wire(new Conn(ch, this.limits));
    if (!this.registry.canAdd(c.pkHex)) {
      this.drop(c, 'limit', 'messenger is full');
      return;
    }
    const old = this.conns.get(c.pkHex);
    if (old) this.drop(old, 'replaced', 'the same key connected again');
    this.conns.set(c.pkHex, c);
    c.registered = true;
    this.registry.online(c.pkHex);
    log.info('client connected', { pk: shortPk(c.pkHex) });
    this.emit('register', c.pkHex);
  }

  private wire(c: Conn): Conn {
    const ch = c.ch;
    noDelay(ch);
    this.all.add(c);
    ch.on('data', (chunk: Buffer) => this.onChunk(c, chunk));
    ch.on('error', (err) => log.debug('connection error', { pk: shortPk(c.pkHex), err }));
    ch.on('close', () => this.gone(c));
    ch.on('end', () => ch.end());
    return c;
  }

  /** A connection we dialed to another messenger of the shared registry. */
  private adopt(ch: SecureChannel): Conn {
    if (this.closing) {
      ch.destroy();
      throw new MessengerError('shutdown', 'messenger is shutting down');
    }
    const c = this.wire(new Conn(ch, this.limits, true));
    c.peer = 'out';
    return c;
  }

  /** Tells the peer why (GOAWAY), then closes; its streams' far ends get RESET peer_gone. */
  private drop(c: Conn, code: WireCode, reason: string): void {
    if (c.gone) return;
    if (code === 'protocol_error') {
      protocolErrors.note(reason, { pk: shortPk(c.pkHex) });
      this.emit('protocolError', { pk: c.pkHex, reason });
    }
    c.writer.send(encodeGoaway(codeNumber(code), reason));
    c.writer.end();
    this.gone(c);
    // Give the GOAWAY a moment to leave, but never keep a misbehaving peer around.
    const t = setTimeout(() => c.ch.destroy(), 1000);
    t.unref();
  }

  private gone(c: Conn): void {
    if (c.gone) return;
    c.gone = true;
    this.all.delete(c);
    c.failPending();
    if (c.peer === 'out') this.fwd?.forget(c);
    for (const h of [...c.streams.values()]) {
      this.unlink(h);
      // On shutdown every connection goes: its clients learn that from the connection, not per stream.
      if (!this.closing) h.peer.conn.writer.send(encodeReset(h.peer.sid, codeNumber('peer_gone')));
    }
    if (c.registered && this.conns.get(c.pkHex) === c) {
      this.conns.delete(c.pkHex);
      this.registry.offline(c.pkHex);
      if (c.hello && !this.closing) this.fwd?.dir.unserve(c.pkHex);
      log.info('client disconnected', { pk: shortPk(c.pkHex) });
    }
  }

  private reapIdle(idleMs: number): void {
    const now = Date.now();
    for (const c of this.all) {
      if (now - c.lastRx > idleMs) this.drop(c, 'timeout', `silent for ${idleMs} ms`);
      // We are the client on links we dialed: keep them alive (the far end reaps silent ones as we do).
      else if (c.peer === 'out') c.writer.send(encodePing(T.PING, Buffer.alloc(8)));
    }
  }

  private onChunk(c: Conn, chunk: Buffer): void {
    if (c.gone) return;
    c.lastRx = Date.now();
    if (!c.peer) this.registry.touch(c.pkHex, c.lastRx);
    try {
      for (const f of c.decoder.push(chunk)) {
        if (c.gone) return;
        this.onFrame(c, f);
      }
    } catch (err) {
      this.drop(c, 'protocol_error', (err as Error).message);
      return;
    }
    // A client that does not read its answers is paused, not buffered for.
    if (!c.gone && this.congested(c) && !c.ch.isPaused()) {
      c.ch.pause();
      c.ch.once('drain', () => c.ch.resume());
    }
  }

  private onFrame(c: Conn, frame: Frame): void {
    if (Array.isArray(frame)) return this.onData(c, frame);
    const f = frame;
    switch (f[0]) {
      case T.REQ:
        return this.onRequest(c, f.readUInt32BE(3), f[7], f.subarray(8));
      case T.RES:
        if (!c.peer) throw new ProtocolError('frame type 0x2 is not sent by clients');
        return c.onResponse(f.readUInt32BE(3), f[7], f.subarray(8));
      case T.FOPEN:
        if (!c.peer) throw new ProtocolError('FOPEN is only for messengers of a shared registry');
        return this.fwd?.onFopen(c, f);
      case T.PING:
        return c.writer.send(encodePing(T.PONG, f.subarray(3)));
      case T.PONG:
        return;
      case T.GOAWAY:
        c.ch.end();
        return;
      case T.OPEN:
        return this.onOpen(c, f);
      case T.ACCEPT:
        return this.onAccept(c, f.readUInt32BE(3), f.readUInt32BE(7));
      case T.DATA:
        return this.onData(c, [f]);
      case T.WINDOW:
        return this.onWindow(c, f.readUInt32BE(3), f.readUInt32BE(7));
      case T.CLOSE:
        return this.onClose(c, f.readUInt32BE(3));
      case T.RESET:
        return this.onReset(c, f.readUInt32BE(3), f[7]);
      default:
        throw new ProtocolError(`frame type 0x${f[0].toString(16)} is not sent by clients`);
    }
  }

  // ---- requests ------------------------------------------------------------------------------------------

  private reply(c: Conn, req: number, value: unknown): void {
    c.writer.send(encodeRes(req, 0, jsonBuf(value)));
  }

  private fail(c: Conn, req: number, code: WireCode, message: string): void {
    c.writer.send(encodeRes(req, codeNumber(code), Buffer.from(message, 'utf8')));
  }

  private onRequest(c: Conn, req: number, op: number, payload: Buffer): void {
    if (c.peer) return this.fwd?.onPeerRequest(c, req, op, payload);
    if (op === OP.SEND) return this.onSend(c, req, payload);
    if (!c.requests.take()) return this.fail(c, req, 'rate_limited', 'too many requests');
    switch (op) {
      case OP.HELLO: {
        const r = checkHello(parseJson(payload));
        if (!r.ok) return this.fail(c, req, 'bad_request', r.error);
        this.registry.announce(c.pkHex, r.value);
        c.hello = true;
        const observed = observedAddress(c.ch.transport);
        const fwd = this.fwd;
        const cluster = fwd?.dir.clusterId;
        const answer = {
          version: PROTOCOL_VERSION,
          // Messengers sharing a registry: a client needs only one of them at a time (docs/messenger.md).
          ...(cluster ? { cluster } : {}),
          // Where this client's connection came from, as seen here (behind a NAT: its public mapping, as STUN
          // tells). Older clients ignore the field.
          ...(observed ? { observed } : {}),
          limits: {
            maxDatagram: this.limits.maxDatagram,
            maxStreams: this.limits.maxStreamsPerConn,
            maxWindow: this.limits.maxWindow,
            maxData: MAX_DATA_PAYLOAD,
            // Window sizing (credit.ts); a messenger without these fields takes maxWindow on every stream.
            ...(this.limits.baseWindow < this.limits.maxWindow
              ? { baseWindow: this.limits.baseWindow, connWindow: this.limits.connWindow }
              : {}),
          },
        };
        // With a shared registry, answered once the entry is in Redis: a client that failed over here is
        // reachable from every messenger when it learns it is registered.
        return fwd?.available ? fwd.answerWhenWritten(c, req, answer) : this.reply(c, req, answer);
      }
      case OP.ANNOUNCE: {
        const r = checkAnnounce(parseJson(payload));
        if (!r.ok) return this.fail(c, req, 'bad_request', r.error);
        this.registry.announce(c.pkHex, r.value);
        return c.hello && this.fwd?.available ? this.fwd.answerWhenWritten(c, req, null) : this.reply(c, req, null);
      }
      case OP.LOOKUP: {
        if (payload.length !== PK_BYTES) return this.fail(c, req, 'bad_request', 'lookup takes a 33-byte key');
        const pk = pkToHex(payload);
        if (!this.conns.has(pk) && this.fwd?.available) return this.fwd.lookup(c, req, pk);
        return this.reply(c, req, this.registry.lookup(pk));
      }
      case OP.QUERY: {
        const r = checkQuery(parseJson(payload));
        if (!r.ok) return this.fail(c, req, 'bad_request', r.error);
        return this.fwd?.available ? this.fwd.query(c, req, r.value) : this.reply(c, req, this.registry.query(r.value));
      }
      case OP.PEER:
        if (!this.fwd) return this.fail(c, req, 'unsupported', 'this messenger shares no registry');
        return this.fwd.peer(c, req, payload);
      default:
        return this.fail(c, req, 'unsupported', `unknown op ${op}`);
    }
  }

  private onSend(c: Conn, req: number, payload: Buffer): void {
    if (payload.length < PK_BYTES) return this.fail(c, req, 'bad_request', 'send takes a 33-byte key and data');
    const data = payload.subarray(PK_BYTES);
    if (data.length > this.limits.maxDatagram) {
      return this.fail(c, req, 'too_large', `datagram of ${data.length} bytes exceeds ${this.limits.maxDatagram}`);
    }
    if (!c.datagrams.take()) return this.fail(c, req, 'rate_limited', 'too many datagrams');
    const toHex = pkToHex(payload.subarray(0, PK_BYTES));
    const to = this.conns.get(toHex);
    if (!to && this.fwd?.available) return this.fwd.send(c, req, payload.subarray(0, PK_BYTES), data);
    if (!to) return this.fail(c, req, 'offline', 'recipient is not connected');
    if (this.congested(to)) return this.fail(c, req, 'congested', 'recipient is not reading');
    to.writer.send(encodeDgram(c.pk, data));
    this.reply(c, req, null);
  }

  /** True when more waits for `c` than its streams' windows explain: it is not reading what is not stream data. */
  private congested(c: Conn): boolean {
    return c.writer.pending > this.limits.congestedBytes + grantedBound(c, this.limits);
  }

  // ---- streams -------------------------------------------------------------------------------------------

  private onOpen(c: Conn, f: Buffer): void {
    const sid = f.readUInt32BE(3);
    const window = f.readUInt32BE(7);
    const port = f.readUInt16BE(11);
    const targetPk = f.subarray(13, 13 + PK_BYTES);
    if (c.peer) throw new ProtocolError('messengers open streams with FOPEN');
    if (!c.isTheirSid(sid)) throw new ProtocolError(`client stream ids are odd, got ${sid}`);
    if (c.streams.has(sid) || c.isOpening(sid)) throw new ProtocolError(`stream ${sid} is already open`);
    if (window > this.limits.maxWindow) throw new ProtocolError(`window ${window} exceeds ${this.limits.maxWindow}`);
    const extra = c.grantedExtra + Math.max(0, window - c.baseWindow);
    if (extra > this.limits.connWindow) throw new ProtocolError(`stream ${sid}: window ${window} takes the connection's credit past its limit`);
    const refuse = (code: WireCode) => c.writer.send(encodeReset(sid, codeNumber(code)));
    const max = this.limits.maxStreamsPerConn;
    if (c.opened >= max || c.streams.size >= max * 4) return refuse('limit');
    if (!c.requests.take()) return refuse('rate_limited');
    const to = this.conns.get(pkToHex(targetPk));
    if (!to && this.fwd?.available) return void this.fwd.open(c, sid, window, port, Buffer.from(targetPk));
    if (!to) return refuse('offline');
    if (to.streams.size >= max * 4) return refuse('limit');
    if (this.congested(to)) return refuse('congested');
    const tsid = to.takeSid();
    pairHalves(c, sid, to, tsid, window, true);
    c.opened++;
    to.writer.send(encodeOpen(tsid, window, port, c.pk));
  }

  private onAccept(c: Conn, sid: number, window: number): void {
    const h = c.streams.get(sid);
    if (!h) return; // raced with a RESET
    if (h.accepted) throw new ProtocolError(`stream ${sid} accepted twice`);
    if (window > this.limits.maxWindow) throw new ProtocolError(`window ${window} exceeds ${this.limits.maxWindow}`);
    h.accepted = true;
    const pass = grant(c, h, window, this.limits);
    h.peer.conn.writer.send(encodeSidU32(T.ACCEPT, h.peer.sid, pass));
  }

  /** DATA, whole or in pieces (the first holding at least type, length and sid). */
  private onData(c: Conn, pieces: Buffer[]): void {
    const f = pieces[0];
    const sid = f.readUInt32BE(3);
    const h = c.streams.get(sid);
    if (!h) return; // raced with a RESET: bounded by the window the sender had
    let n = -FRAME_HEADER_BYTES - 4;
    for (const p of pieces) n += p.length;
    if (!h.accepted || h.closed) throw new ProtocolError(`DATA on stream ${sid} that is not open for sending`);
    if (n > h.credit) throw new ProtocolError(`stream ${sid}: ${n} bytes sent with only ${h.credit} of credit`);
    setCredit(h, h.credit - n);
    // Same frame, the peer's stream id written in place: no copy on the relay path.
    f.writeUInt32BE(h.peer.sid, 3);
    this.deferral.data(h.peer, pieces);
    if (h.banked) {
      const more = release(h);
      if (more) this.deferral.credit(h, more);
    }
  }

  private onWindow(c: Conn, sid: number, inc: number): void {
    const h = c.streams.get(sid);
    if (!h) return;
    if (!h.accepted) throw new ProtocolError(`WINDOW on stream ${sid} before ACCEPT`);
    // An increment of 0 is a sender's "waiting for credit" hint (window sizing); anything else is credit.
    if (inc === 0) {
      if (passHint(h)) h.peer.conn.writer.send(encodeSidU32(T.WINDOW, h.peer.sid, 0));
      return;
    }
    const pass = grant(c, h, inc, this.limits);
    if (pass > 0) this.deferral.credit(h.peer, pass);
  }

  private onClose(c: Conn, sid: number): void {
    const h = c.streams.get(sid);
    if (!h) return;
    if (!h.accepted) throw new ProtocolError(`CLOSE on stream ${sid} before ACCEPT`);
    if (h.closed) return;
    h.closed = true;
    this.deferral.close(h.peer);
    // Both ends closed: the stream ends here, unless data and the CLOSE wait for the far end (deferred.ts).
    if (h.peer.closed && !h.peer.closeHeld) this.unlink(h);
  }

  private onReset(c: Conn, sid: number, code: number): void {
    const h = c.streams.get(sid);
    if (!h) {
      if (c.endOpening(sid)) c.opened--; // gave up on a forward still being set up
      return;
    }
    if (this.fwd?.retryOpen(h, code)) return;
    this.unlink(h);
    h.peer.conn.writer.send(encodeReset(h.peer.sid, code > 0 && code < CODES.length ? code : codeNumber('reset')));
  }

  /** Forgets both ends of a stream. */
  private unlink(h: Half): void {
    for (const x of [h, h.peer]) {
      if (x.conn.streams.get(x.sid) !== x) continue;
      setCredit(x, 0);
      x.banked = 0;
      this.deferral.drop(x);
      x.conn.streams.delete(x.sid);
      if (x.opener) x.conn.opened--;
    }
  }
}

/** "IP:PORT" of the TCP peer under a channel (an IPv4-mapped IPv6 address as plain IPv4), if it is a socket. */
function observedAddress(transport: unknown): string | undefined {
  const sock = transport as { remoteAddress?: unknown; remotePort?: unknown };
  if (typeof sock.remoteAddress !== 'string' || typeof sock.remotePort !== 'number') return undefined;
  const host = sock.remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return formatHostPort({ host, port: sock.remotePort });
}

