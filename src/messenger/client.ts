// The messenger client: registers this key with one or more messengers (the key is proven by the handshake),
// keeps its announced entry there across reconnects, and offers lookup, query, datagrams and relayed streams.
// With several messengers, each operation tries them in turn and the first success wins.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { KeyPair } from '../net/keys.js';
import { parsePublicKey, pkToHex, shortPk } from '../net/keys.js';
import { MessengerError, type MessengerErrorCode } from './errors.js';
import { Link } from './link.js';
import { MAX_BODY, OP, PK_BYTES } from './protocol.js';
import type { RelayStream } from './stream.js';
import { checkAnnounce, checkLookupAnswer, checkQueryAnswer, type Announce, type Entry, type Service } from './types.js';

export interface MessengerClientOptions {
  localKey: KeyPair;
  messengers: Array<{ pk: Buffer; host: string; port: number }>;
  /** Per request (lookup, query, send...), default 10 s. */
  requestTimeoutMs?: number;
  /** How long open() waits for the far end to accept, default 10 s. */
  openTimeoutMs?: number;
  /** Keepalive ping interval; a messenger silent for 3 intervals is reconnected. Default 15 s. */
  keepaliveMs?: number;
  /** Receive window per stream in bytes: the initial one, or the fixed one with `autotune: false` (default 1 MiB,
   *  what every messenger accepts). */
  window?: number;
  /** Grow a stream's window to its bandwidth-delay product (default true; docs/messenger.md, "Window sizing").
   *  false: a fixed window, as clients before window sizing. */
  autotune?: boolean;
  /** Largest window per stream when tuned (default 16 MiB; the messenger's maxWindow caps it too). */
  maxWindow?: number;
  /** Window growth beyond the base window across the streams of one messenger connection (default 32 MiB; the
   *  messenger's connWindow caps it too): with the base windows, what peers can make this client hold. */
  windowBudget?: number;
  /** Reconnect backoff, default 200 ms doubling up to 10 s. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** The local address to dial from (default: the system's choice); e.g. one of many loopback addresses. */
  localAddress?: string;
}

/** Largest datagram the frame format can carry; messengers may allow less (default 60 KiB). */
export const MAX_DATAGRAM_FRAMEABLE = MAX_BODY - 5 - PK_BYTES;

// Errors that say "not here": the next messenger may still succeed.
// protocol_error here is a messenger answering nonsense: that one is at fault, the next one may do better.
const SOFT: MessengerErrorCode[] = ['offline', 'not_connected', 'disconnected', 'timeout', 'closed', 'limit', 'congested', 'protocol_error'];

export class MessengerClient extends EventEmitter {
  private readonly links: Link[];
  private readonly portHandlers = new Map<number, (s: Duplex, from: string) => void>();
  private entry: Announce = {};
  private closed = false;
  private startWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(private readonly o: MessengerClientOptions) {
    super();
    if (!o.messengers.length) throw new Error('MessengerClient needs at least one messenger address');
    const linkOpts = {
      localKey: o.localKey,
      requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
      openTimeoutMs: o.openTimeoutMs ?? 10_000,
      keepaliveMs: o.keepaliveMs ?? 15_000,
      window: o.window ?? 1024 * 1024,
      autotune: o.autotune ?? true,
      maxWindow: o.maxWindow ?? 16 * 1024 * 1024,
      windowBudget: o.windowBudget ?? 32 * 1024 * 1024,
      reconnect: { initialMs: o.reconnect?.initialMs ?? 200, maxMs: o.reconnect?.maxMs ?? 10_000 },
      localAddress: o.localAddress,
    };
    const owner = {
      announced: () => this.entry,
      onUp: (l: Link) => {
        for (const w of this.startWaiters) w.resolve();
        this.startWaiters = [];
        // Messengers sharing a registry serve us equally: keep one (the first listed), the others stand by.
        const mates = l.cluster ? this.links.filter((x) => x.ready && x.cluster === l.cluster) : [l];
        if (mates.length > 1) {
          // The one parked wrote our entry to the shared registry on its HELLO, possibly an older one than the
          // kept messenger has: the kept one writes it again, after.
          mates[0].reannounce();
        }
        if (mates[0] !== l) return l.park();
        this.emit('connected', l.pkHex);
        for (const x of mates.slice(1)) {
          x.park();
          this.emit('disconnected', x.pkHex);
        }
      },
      onDown: (l: Link) => {
        this.emit('disconnected', l.pkHex);
        // Its standbys take over at once, with no backoff: the failover of docs/messenger.md.
        if (l.cluster) for (const x of this.links) if (x !== l && x.cluster === l.cluster) x.wakeUp();
      },
      standby: (l: Link) => l.cluster !== undefined && this.links.some((x) => x !== l && x.ready && x.cluster === l.cluster),
      onDatagram: (from: string, data: Buffer) => this.emit('datagram', from, data),
      listener: (port: number) => this.portHandlers.get(port),
    };
    this.links = o.messengers.map((m) => new Link(m, linkOpts, owner));
  }

  get publicKey(): Buffer {
    return this.o.localKey.publicKey;
  }

  /** Messengers (public key hex) this client is registered with right now. */
  connectedMessengers(): string[] {
    return this.links.filter((l) => l.ready).map((l) => l.pkHex);
  }

  /**
   * The addresses the connected messengers saw this client's connections come from ("IP:PORT", deduplicated):
   * behind a NAT, its public mapping. 'connected' is emitted after a registration, when this may have changed.
   */
  observedAddresses(): string[] {
    return [...new Set(this.links.filter((l) => l.ready && l.observed).map((l) => l.observed!))];
  }

  /** Resolves once registered with at least one messenger; keeps (re)connecting to all of them. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new MessengerError('closed', 'messenger client is closed'));
    for (const l of this.links) l.start();
    if (this.links.some((l) => l.ready)) return Promise.resolve();
    return new Promise((resolve, reject) => this.startWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.startWaiters) w.reject(new MessengerError('closed', 'messenger client closed before it registered'));
    this.startWaiters = [];
    await Promise.all(this.links.map((l) => l.stop()));
  }

  /** Sets the entry others see (fields given replace the old ones); it is re-sent after every reconnect. */
  async announce(e: { addresses?: string[]; services?: Service[] }): Promise<void> {
    const checked = checkAnnounce(e);
    if (!checked.ok) throw new MessengerError('bad_request', checked.error);
    const before = this.entry;
    this.entry = {
      addresses: e.addresses ?? this.entry.addresses,
      services: e.services ?? this.entry.services,
    };
    const payload = Buffer.from(JSON.stringify(this.entry), 'utf8');
    const results = await Promise.allSettled(this.ready().map((l) => l.request(OP.ANNOUNCE, payload)));
    // A messenger that rejects the entry will reject it again: keep the old one (it is re-sent on reconnect,
    // and a rejected HELLO would never register) and tell the caller. Lost connections re-announce.
    for (const r of results) {
      if (r.status === 'rejected' && (r.reason as MessengerError).code === 'bad_request') {
        this.entry = before;
        throw r.reason;
      }
    }
  }

  async lookup(pk: Buffer | string): Promise<Entry | null> {
    const key = toPk(pk);
    const found = await this.tryEach(async (l) => {
      const r = checkLookupAnswer(await l.requestJson(OP.LOOKUP, key));
      if (!r.ok) throw new MessengerError('protocol_error', `messenger ${shortPk(l.pkHex)} answered a lookup with ${r.error}`);
      if (!r.value) throw new MessengerError('offline', `${pkToHex(key)} is not registered`);
      if (r.value.pk !== pkToHex(key)) {
        throw new MessengerError('protocol_error', `messenger ${shortPk(l.pkHex)} answered a lookup of ${shortPk(key)} with ${shortPk(r.value.pk)}`);
      }
      return r.value;
    });
    return found.ok ? found.value : found.error.code === 'offline' ? null : throwIt(found.error);
  }

  async query(q: { service?: string; attr?: { key: string; value: string }; offset?: number; limit?: number }): Promise<{
    entries: Entry[];
    total: number;
  }> {
    const payload = Buffer.from(JSON.stringify(q), 'utf8');
    const found = await this.tryEach(async (l) => {
      const r = checkQueryAnswer(await l.requestJson(OP.QUERY, payload));
      if (!r.ok) throw new MessengerError('protocol_error', `messenger ${shortPk(l.pkHex)} answered a query with ${r.error}`);
      if (r.value.total === 0) throw new MessengerError('offline', 'no match');
      return r.value;
    });
    return found.ok ? found.value : found.error.code === 'offline' ? { entries: [], total: 0 } : throwIt(found.error);
  }

  /** Relays a datagram to `pk`; resolves once the messenger handed it to the recipient's connection. */
  async send(pk: Buffer | string, data: Buffer): Promise<void> {
    const key = toPk(pk);
    if (data.length > MAX_DATAGRAM_FRAMEABLE) {
      throw new MessengerError('too_large', `datagram of ${data.length} bytes exceeds ${MAX_DATAGRAM_FRAMEABLE}`);
    }
    const payload = Buffer.concat([key, data]);
    const r = await this.tryEach((l) => l.request(OP.SEND, payload));
    if (!r.ok) throw r.error;
  }

  /** Opens a relayed stream to whoever listens on `port` at `pk`. */
  async open(pk: Buffer | string, port: number): Promise<Duplex> {
    const key = toPk(pk);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port ${port} is out of range 0-65535`);
    const r = await this.tryEach<RelayStream>((l) => l.open(key, port));
    if (!r.ok) throw r.error;
    return r.value;
  }

  /** Accepts relayed streams opened to `port`; returns a function that stops listening. */
  listen(port: number, onStream: (s: Duplex, from: string) => void): () => void {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port ${port} is out of range 0-65535`);
    if (this.portHandlers.has(port)) throw new Error(`already listening on port ${port}`);
    this.portHandlers.set(port, onStream);
    return () => {
      if (this.portHandlers.get(port) === onStream) this.portHandlers.delete(port);
    };
  }

  private ready(): Link[] {
    return this.links.filter((l) => l.ready);
  }

  /** Runs `fn` on each connected messenger until one succeeds; otherwise returns the most telling error. */
  private async tryEach<V>(fn: (l: Link) => Promise<V>): Promise<{ ok: true; value: V } | { ok: false; error: MessengerError }> {
    if (this.closed) return { ok: false, error: new MessengerError('closed', 'messenger client is closed') };
    const links = this.ready();
    if (!links.length) return { ok: false, error: new MessengerError('not_connected', 'not connected to any messenger') };
    let best: MessengerError | undefined;
    for (const l of links) {
      try {
        return { ok: true, value: await fn(l) };
      } catch (err) {
        const e = err instanceof MessengerError ? err : new MessengerError('internal', (err as Error).message);
        if (!best || (SOFT.includes(best.code) && !SOFT.includes(e.code))) best = e;
        if (!SOFT.includes(e.code) && e.code !== 'refused') break;
      }
    }
    return { ok: false, error: best! };
  }
}

function toPk(pk: Buffer | string): Buffer {
  if (typeof pk === 'string') return parsePublicKey(pk);
  if (!Buffer.isBuffer(pk) || pk.length !== PK_BYTES) throw new Error('public key must be 33 bytes');
  return pk;
}

function throwIt(e: Error): never {
  throw e;
}
