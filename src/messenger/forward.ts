// The server's side of a shared registry: what waits on Redis (lookups, queries, entries written before a HELLO
// is answered) and what goes to or comes from another messenger (forwarded datagrams and streams). A client's
// requests that wait here are capped (MAX_INFLIGHT), so aiming at keys of a stalled messenger cannot make us hold
// much for it; forwarded streams keep the relays' per-stream credit, so no relay holds more than one window per
// stream direction (docs/messenger.md, "Several messengers, one registry").
import type { KeyPair } from '../net/keys.js';
import { pkToHex, shortPk } from '../net/keys.js';
import type { SecureChannel } from '../net/secure.js';
import { createLogger } from '../util/log.js';
import { pairHalves, type Conn, type Half } from './conn.js';
import { MessengerError } from './errors.js';
import { PeerLinks } from './peers.js';
import { farWindowOf } from './credit.js';
import { CODES, OP, PK_BYTES, PROTOCOL_VERSION, ProtocolError, codeName, codeNumber, encodeDgram, encodeFopen, encodeOpen, encodeReset, type WireCode } from './protocol.js';
import type { SharedDirectory } from './shared-directory.js';
import type { Entry, Query } from './types.js';

const log = createLogger('messenger');

/** Requests and stream opens of one client waiting on Redis or another messenger at once; more are refused. */
export const MAX_INFLIGHT = 64;
const PEER_REQUEST_MS = 5000;
/** How many messengers a forwarded open tries when the ones before said the key is not there (stale claims). */
const MAX_OPEN_TRIES = 4;

/** What the forwarder needs from the server. */
export interface ForwardHost {
  readonly limits: { maxDatagram: number; maxStreamsPerConn: number; maxWindow: number; baseWindow: number };
  readonly key: KeyPair;
  /** The live connection of a client registered here. */
  client(pk: string): Conn | undefined;
  reply(c: Conn, req: number, value: unknown): void;
  fail(c: Conn, req: number, code: WireCode, message: string): void;
  congested(c: Conn): boolean;
  unlink(h: Half): void;
  /** `c` proved to be a messenger of the registry: it is no client here. */
  unregister(c: Conn): void;
  lookupLocal(pk: string): Entry | null;
  queryLocal(q: Query): { entries: Entry[]; total: number };
  /** Wraps a channel we dialed to another messenger as a connection the server reads. */
  adopt(ch: SecureChannel): Conn;
}

export class Forwarder {
  private readonly peers: PeerLinks;
  private readonly self: string;

  constructor(
    readonly dir: SharedDirectory,
    private readonly h: ForwardHost,
  ) {
    this.self = pkToHex(h.key.publicKey);
    this.peers = new PeerLinks({ key: h.key, dir, maxWindow: h.limits.maxWindow, adopt: (ch) => h.adopt(ch) });
  }

  get available(): boolean {
    return this.dir.available;
  }

  /** A link we dialed is gone. */
  forget(c: Conn): void {
    this.peers.forget(c);
  }

  /** Answers HELLO or ANNOUNCE once the client's entry is in Redis: then every messenger can reach it. */
  answerWhenWritten(c: Conn, req: number, answer: unknown): void {
    this.waitOn(c, req, () => this.dir.serve(c.pkHex).then(() => answer), () => answer);
  }

  /** A key not connected here (or in its grace period): Redis knows best; our table if Redis fails. */
  lookup(c: Conn, req: number, pk: string): void {
    this.waitOn(c, req, () => this.dir.locate(pk).then((l) => l?.entry ?? this.h.lookupLocal(pk)), () => this.h.lookupLocal(pk));
  }

  query(c: Conn, req: number, q: Query): void {
    this.waitOn(c, req, () => this.dir.query(q), () => this.h.queryLocal(q));
  }

  /** PEER: the connection is another messenger of the registry if Redis has its live record. */
  peer(c: Conn, req: number, payload: Buffer): void {
    if (c.hello || c.streams.size) return this.h.fail(c, req, 'bad_request', 'PEER must come first on a connection');
    this.waitOn(c, req, async () => {
      if (!(await this.dir.isMessenger(c.pkHex))) throw new MessengerError('bad_request', 'not a messenger of this registry');
      if (c.hello || c.peer) throw new MessengerError('bad_request', 'PEER must come first on a connection');
      c.peer = 'in';
      c.farWindow = farWindowOf(payload);
      this.h.unregister(c);
      log.info('peer messenger linked', { messenger: shortPk(c.pkHex) });
      return { version: PROTOCOL_VERSION, maxWindow: this.h.limits.maxWindow };
    }, rethrow);
  }

  /** SEND to a key not connected here: to a messenger that serves it. `to` and `data` are copied. */
  send(c: Conn, req: number, to: Buffer, data: Buffer): void {
    const fwd = Buffer.concat([to, c.pk, data]);
    const toHex = pkToHex(to);
    this.waitOn(c, req, async () => {
      for (const mpk of await this.servedElsewhere(toHex)) {
        try {
          await (await this.peers.get(mpk)).request(OP.FSEND, fwd, PEER_REQUEST_MS);
          return null;
        } catch (err) {
          if (!notThere(err)) throw err;
        }
      }
      throw new MessengerError('offline', 'recipient is not connected');
    }, rethrow);
  }

  /** Requests on a connection from another messenger: forwarded datagrams only. */
  onPeerRequest(c: Conn, req: number, op: number, payload: Buffer): void {
    const { h } = this;
    if (op !== OP.FSEND) return h.fail(c, req, 'unsupported', `op ${op} is not used between messengers`);
    if (payload.length < 2 * PK_BYTES) return h.fail(c, req, 'bad_request', 'forwarded send takes two 33-byte keys and data');
    const data = payload.subarray(2 * PK_BYTES);
    if (data.length > h.limits.maxDatagram) return h.fail(c, req, 'too_large', `datagram of ${data.length} bytes exceeds ${h.limits.maxDatagram}`);
    const to = h.client(pkToHex(payload.subarray(0, PK_BYTES)));
    if (!to) return h.fail(c, req, 'offline', 'recipient is not connected');
    if (h.congested(to)) return h.fail(c, req, 'congested', 'recipient is not reading');
    to.writer.send(encodeDgram(payload.subarray(PK_BYTES, 2 * PK_BYTES), data));
    h.reply(c, req, null);
  }

  /**
   * A stream to a key served by another messenger: our client's half pairs with a half on the link to that
   * messenger, which pairs it with its client's. Credit and DATA then pass both relays as on one.
   */
  async open(c: Conn, sid: number, window: number, port: number, target: Buffer, tried: string[] = []): Promise<void> {
    if (c.inflight >= MAX_INFLIGHT) return void c.writer.send(encodeReset(sid, codeNumber('rate_limited')));
    c.opened++;
    c.startOpening(sid);
    c.inflight++;
    try {
      for (const mpk of await this.servedElsewhere(pkToHex(target))) {
        if (tried.includes(mpk)) continue;
        let peer: Conn;
        try {
          peer = await this.peers.get(mpk);
        } catch {
          continue;
        }
        if (c.gone || !c.isOpening(sid)) return; // the client gave up (RESET) or left meanwhile
        if (peer.gone) continue;
        c.endOpening(sid);
        const psid = peer.takeSid();
        const pass = pairHalves(c, sid, peer, psid, window, true);
        peer.streams.get(psid)!.fwd = { port, target, tried: [...tried, mpk] };
        peer.writer.send(encodeFopen(psid, pass, port, target, c.pk));
        return;
      }
      if (c.endOpening(sid)) {
        c.opened--;
        c.writer.send(encodeReset(sid, codeNumber('offline')));
      }
    } finally {
      c.inflight--;
    }
  }

  /**
   * A RESET for a forwarded open not yet accepted: if that messenger said the key is not there (its claim was
   * stale: the client just left it), try the next one. True when handled so.
   */
  retryOpen(h: Half, code: number): boolean {
    if (!h.fwd || h.accepted || codeName(code) !== 'offline' || h.fwd.tried.length >= MAX_OPEN_TRIES) return false;
    const { port, target, tried } = h.fwd;
    const window = h.credit + (h.banked ?? 0);
    this.h.unlink(h);
    if (!h.peer.conn.gone) void this.open(h.peer.conn, h.peer.sid, window, port, target, tried);
    return true;
  }

  /** FOPEN: a stream another messenger opens for its client `from` to our client `to`. */
  onFopen(c: Conn, f: Buffer): void {
    const sid = f.readUInt32BE(3);
    const window = f.readUInt32BE(7);
    const port = f.readUInt16BE(11);
    if (!c.isTheirSid(sid) || c.streams.has(sid)) throw new ProtocolError(`bad forwarded stream id ${sid}`);
    if (window > this.h.limits.maxWindow) throw new ProtocolError(`window ${window} exceeds ${this.h.limits.maxWindow}`);
    const refuse = (code: WireCode) => c.writer.send(encodeReset(sid, codeNumber(code)));
    const to = this.h.client(pkToHex(f.subarray(13, 13 + PK_BYTES)));
    if (!to) return refuse('offline');
    if (to.streams.size >= this.h.limits.maxStreamsPerConn * 4) return refuse('limit');
    if (this.h.congested(to)) return refuse('congested');
    const tsid = to.takeSid();
    pairHalves(c, sid, to, tsid, window, false);
    to.writer.send(encodeOpen(tsid, window, port, f.subarray(13 + PK_BYTES, 13 + 2 * PK_BYTES)));
  }

  /** The other messengers that serve `pk` now, freshest first (none if Redis cannot say). */
  private async servedElsewhere(pk: string): Promise<string[]> {
    const l = await this.dir.locate(pk).catch(() => null);
    return (l?.at ?? []).filter((m) => m !== this.self);
  }

  /**
   * Answers `req` once `work` settles (falling back to `fallback` if it fails), at most MAX_INFLIGHT per client.
   */
  private waitOn(c: Conn, req: number, work: () => Promise<unknown>, fallback: (err: unknown) => unknown): void {
    if (c.inflight >= MAX_INFLIGHT) return this.h.fail(c, req, 'rate_limited', 'too many requests waiting on other messengers');
    c.inflight++;
    work()
      .catch(fallback)
      .then(
        (v) => this.h.reply(c, req, v),
        (err: unknown) => {
          const e = err instanceof MessengerError ? err : new MessengerError('internal', (err as Error)?.message ?? String(err));
          this.h.fail(c, req, asWireCode(e.code), e.message);
        },
      )
      .finally(() => c.inflight--);
  }
}

function rethrow(err: unknown): never {
  throw err;
}

/** The wire code for a client error (codes that never cross the wire become 'internal'). */
function asWireCode(code: string): WireCode {
  return (CODES as readonly string[]).includes(code) && code !== 'ok' ? (code as WireCode) : 'internal';
}

/** "Not served there (any more)": the next messenger may still have the key. */
function notThere(err: unknown): boolean {
  const code = (err as MessengerError)?.code;
  return code === 'offline' || code === 'disconnected' || code === 'timeout' || code === 'shutdown' || code === 'not_connected';
}
