// One client connection to one messenger: dials, registers (HELLO with the announced entry), keeps the
// connection alive, and reconnects with capped backoff. Requests and streams on a connection that drops fail
// at once with 'disconnected' instead of hanging.
import { isIP } from 'node:net';
import type { KeyPair } from '../net/keys.js';
import { pkToHex, shortPk } from '../net/keys.js';
import type { SecureChannel } from '../net/secure.js';
import { dialSecure } from '../net/tcp.js';
import { Backoff } from '../util/backoff.js';
import { createLogger } from '../util/log.js';
import { MessengerError } from './errors.js';
import {
  OP,
  PK_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  T,
  FrameReader,
  type Frame,
  codeName,
  codeNumber,
  encodeClose,
  encodeData,
  encodeGoaway,
  encodeOpen,
  encodePing,
  encodeReq,
  encodeReset,
  encodeSidU32,
  jsonBuf,
  parseJson,
} from './protocol.js';
import { LEGACY_WINDOW } from './credit.js';
import { RelayStream, type StreamLink } from './stream.js';
import { WindowBudget, WindowTuner, windowCapsOf } from './window-tuner.js';
import type { Announce } from './types.js';
import { FrameWriter, noDelay } from './writer.js';

const log = createLogger('messenger-client');

export interface LinkOptions {
  localKey: KeyPair;
  requestTimeoutMs: number;
  openTimeoutMs: number;
  keepaliveMs: number;
  /** Receive window per stream: the initial one, or the fixed one when `autotune` is off. */
  window: number;
  /** Size windows to the transfer (window-tuner.ts); off: a fixed window, as clients before window sizing. */
  autotune: boolean;
  /** Largest window per stream, and growth beyond the base window across this connection's streams. */
  maxWindow: number;
  windowBudget: number;
  reconnect: { initialMs: number; maxMs: number };
  localAddress?: string;
}

/** What a link reports to the client that owns it. */
export interface LinkOwner {
  announced(): Announce;
  onUp(link: Link): void;
  onDown(link: Link): void;
  onDatagram(from: string, data: Buffer): void;
  /** True while this link should stay disconnected: another messenger of its shared registry serves us. */
  standby(link: Link): boolean;
  /** The handler for inbound streams on `port`, if the client listens there. */
  listener(port: number): ((s: RelayStream, from: string) => void) | undefined;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Opening {
  stream: RelayStream;
  resolve: (s: RelayStream) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Link implements StreamLink {
  readonly pkHex: string;
  ready = false;
  /** The address this messenger saw our connection come from ("IP:PORT", from its HELLO reply), if it said. */
  observed: string | undefined;
  /** The shared registry this messenger belongs to (HELLO reply's `cluster`), if it said. */
  cluster: string | undefined;
  private ch?: SecureChannel;
  private writer?: FrameWriter;
  /** The window growth of this connection's streams (its caps come with the HELLO reply). */
  private budget: WindowBudget;
  private stopped = false;
  /** Another connection with our key took over at the messenger (another process): do not fight it. */
  private replaced = false;
  private wake?: () => void;
  private readonly backoff: Backoff;
  private readonly requests = new Map<number, Pending>();
  private readonly streams = new Map<number, RelayStream>();
  private readonly opening = new Map<number, Opening>();
  private nextReq = 1;
  private nextSid = 1; // clients open odd stream ids
  private running?: Promise<void>;
  private dialing = false;

  constructor(
    readonly addr: { pk: Buffer; host: string; port: number },
    private readonly o: LinkOptions,
    private readonly owner: LinkOwner,
  ) {
    this.pkHex = pkToHex(addr.pk);
    this.backoff = new Backoff({ initialMs: o.reconnect.initialMs, maxMs: o.reconnect.maxMs });
    this.budget = this.legacyBudget();
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (this.ch && !this.ch.destroyed) {
      this.writer?.send(encodeGoaway(codeNumber('shutdown'), 'client closing'));
      this.writer?.end();
      this.ch.destroy();
    }
    // A dial in progress cannot be cancelled; the loop drops its channel when it completes.
    if (!this.dialing) await this.running;
  }

  /** Ends this connection and stays in standby until woken (another messenger of the registry serves us). */
  park(): void {
    this.ready = false;
    if (this.ch && !this.ch.destroyed) {
      this.writer?.send(encodeGoaway(codeNumber('shutdown'), 'standby: served by another messenger of this registry'));
      this.writer?.end();
      this.ch.destroy();
    }
  }

  /** Sends the client's current entry again (a messenger may hold an older one). */
  reannounce(): void {
    this.request(OP.ANNOUNCE, jsonBuf(this.owner.announced())).catch((err: Error) => log.debug('re-announce failed', { messenger: shortPk(this.pkHex), err }));
  }

  /** Leaves standby, or a backoff wait, and dials now. */
  wakeUp(): void {
    this.backoff.reset();
    this.wake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = ms === Infinity ? undefined : setTimeout(resolve, ms);
      this.wake = () => {
        if (t) clearTimeout(t);
        resolve();
      };
    }).then(() => {
      this.wake = undefined;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.replaced) {
      if (this.owner.standby(this)) {
        await this.pause(Infinity);
        continue;
      }
      try {
        this.dialing = true;
        const ch = await dialSecure(this.addr.host, this.addr.port, this.addr.pk, {
          localKey: this.o.localKey,
          handshakeTimeoutMs: 10_000,
          localAddress: this.o.localAddress,
        });
        this.dialing = false;
        if (this.stopped) {
          ch.destroy();
          break;
        }
        await this.attach(ch);
      } catch (err) {
        this.dialing = false;
        log.debug('messenger connection failed', { messenger: shortPk(this.pkHex), err });
      }
      if (this.stopped || this.replaced) break;
      if (this.owner.standby(this)) continue;
      await this.pause(this.backoff.next());
    }
  }

  /** Runs one connection until it closes. */
  private attach(ch: SecureChannel): Promise<void> {
    return new Promise((resolve) => {
      this.ch = ch;
      this.budget = this.legacyBudget();
      noDelay(ch);
      const writer = new FrameWriter(ch);
      this.writer = writer;
      const decoder = new FrameReader();
      let lastRx = Date.now();
      const keepalive = setInterval(() => {
        if (Date.now() - lastRx > this.o.keepaliveMs * 3) {
          log.warn('messenger silent, reconnecting', { messenger: shortPk(this.pkHex) });
          ch.destroy();
          return;
        }
        writer.send(encodePing(T.PING, Buffer.alloc(8)));
      }, this.o.keepaliveMs);
      keepalive.unref();

      ch.on('data', (chunk: Buffer) => {
        lastRx = Date.now();
        try {
          for (const f of decoder.push(chunk)) this.onFrame(f);
        } catch (err) {
          log.warn('messenger broke the protocol, reconnecting', { messenger: shortPk(this.pkHex), err });
          ch.destroy();
        }
      });
      ch.on('end', () => ch.end());
      ch.on('error', (err) => log.debug('messenger connection error', { messenger: shortPk(this.pkHex), err }));
      ch.on('close', () => {
        clearInterval(keepalive);
        this.down();
        resolve();
      });

      const a = this.owner.announced();
      this.request(OP.HELLO, jsonBuf({ version: PROTOCOL_VERSION, ...a })).then(
        (reply) => {
          if (ch.destroyed) return;
          this.observed = observedOf(reply);
          this.cluster = clusterOf(reply);
          this.budget.caps = windowCapsOf(reply, LEGACY_WINDOW);
          this.ready = true;
          this.backoff.reset();
          log.info('registered with messenger', { messenger: shortPk(this.pkHex) });
          // announce() while our HELLO was on its way reached only the links that were up: this messenger
          // holds the older entry, so send it the current one.
          if (this.owner.announced() !== a) this.reannounce();
          this.owner.onUp(this);
        },
        (err) => {
          log.warn('messenger refused registration', { messenger: shortPk(this.pkHex), err });
          ch.destroy();
        },
      );
    });
  }

  private down(): void {
    const wasReady = this.ready;
    this.ready = false;
    this.ch = undefined;
    this.writer = undefined;
    const err = () =>
      new MessengerError(this.stopped ? 'closed' : 'disconnected', `connection to messenger ${shortPk(this.pkHex)} lost`);
    for (const p of this.requests.values()) {
      clearTimeout(p.timer);
      p.reject(err());
    }
    this.requests.clear();
    for (const o of this.opening.values()) {
      clearTimeout(o.timer);
      o.reject(err());
    }
    this.opening.clear();
    // Closing the client ends its streams quietly; a lost connection is an error their users must hear.
    for (const s of [...this.streams.values()]) s.onLinkDown(this.stopped ? undefined : err());
    this.streams.clear();
    if (wasReady) this.owner.onDown(this);
  }

  private send(frame: Buffer): void {
    this.writer?.send(frame);
  }

  /** Until the messenger states its limits: what every messenger allows. */
  private legacyBudget(): WindowBudget {
    return new WindowBudget({ max: LEGACY_WINDOW, base: LEGACY_WINDOW, extra: 0 }, { max: this.o.maxWindow, extra: this.o.windowBudget });
  }

  private tuner(): WindowTuner {
    return new WindowTuner(this.o.window, this.o.autotune ? this.budget : undefined);
  }

  // ---- requests ------------------------------------------------------------------------------------------

  /** Sends a request; resolves with the response payload, or rejects with the messenger's error code. */
  request(op: number, payload: Buffer): Promise<Buffer> {
    if (!this.writer) return Promise.reject(new MessengerError('not_connected', `not connected to messenger ${shortPk(this.pkHex)}`));
    const req = this.nextReq;
    this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(req);
        reject(new MessengerError('timeout', `messenger ${shortPk(this.pkHex)} did not answer in ${this.o.requestTimeoutMs} ms`));
      }, this.o.requestTimeoutMs);
      this.requests.set(req, { resolve, reject, timer });
      this.send(encodeReq(req, op, payload));
    });
  }

  async requestJson(op: number, payload: Buffer): Promise<unknown> {
    return parseJson(await this.request(op, payload));
  }

  // ---- streams -------------------------------------------------------------------------------------------

  open(pk: Buffer, port: number): Promise<RelayStream> {
    if (!this.writer) return Promise.reject(new MessengerError('not_connected', `not connected to messenger ${shortPk(this.pkHex)}`));
    const sid = this.nextSid;
    this.nextSid = this.nextSid >= 0xfffffff0 ? 1 : this.nextSid + 2;
    const stream = new RelayStream(this, sid, pkToHex(pk), port, this.tuner());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.opening.delete(sid);
        this.sendReset(sid, 'reset');
        reject(new MessengerError('timeout', `open to ${shortPk(pk)}:${port} got no answer in ${this.o.openTimeoutMs} ms`));
      }, this.o.openTimeoutMs);
      this.opening.set(sid, { stream, resolve, reject, timer });
      this.send(encodeOpen(sid, stream.receiveWindow, port, pk));
    });
  }

  sendData(sid: number, payload: Buffer): void {
    // A copy: the caller may reuse its buffer once the write callback ran, before the channel encrypts it.
    this.send(encodeData(sid, payload));
  }
  sendWindow(sid: number, inc: number): void {
    this.send(encodeSidU32(T.WINDOW, sid, inc));
  }
  sendClose(sid: number): void {
    this.send(encodeClose(sid));
  }
  sendReset(sid: number, code: 'reset' | 'refused'): void {
    this.send(encodeReset(sid, codeNumber(code)));
  }
  forget(sid: number): void {
    this.streams.delete(sid);
  }

  // ---- frames from the messenger -------------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    if (Array.isArray(frame)) {
      // A DATA frame in pieces: hand each piece over as it is.
      const s = this.streams.get(frame[0].readUInt32BE(3));
      if (!s) return;
      if (frame[0].length > 7) s.onData(frame[0].subarray(7));
      for (let i = 1; i < frame.length; i++) s.onData(frame[i]);
      return;
    }
    const f = frame;
    switch (f[0]) {
      case T.RES: {
        const req = f.readUInt32BE(3);
        const p = this.requests.get(req);
        if (!p) return;
        this.requests.delete(req);
        clearTimeout(p.timer);
        const code = f[7];
        if (code === 0) p.resolve(f.subarray(8));
        else p.reject(new MessengerError(codeName(code), f.subarray(8).toString('utf8') || codeName(code)));
        return;
      }
      case T.DGRAM:
        return this.owner.onDatagram(pkToHex(f.subarray(3, 3 + PK_BYTES)), f.subarray(3 + PK_BYTES));
      case T.PING:
        return this.send(encodePing(T.PONG, f.subarray(3)));
      case T.PONG:
        return;
      case T.GOAWAY: {
        const code = codeName(f[3]);
        // Another connection proved our key since: another process uses it. It keeps the entry; we stop.
        if (code === 'replaced') this.replaced = true;
        (code === 'shutdown' ? log.info : log.warn)('messenger closed the connection', { messenger: shortPk(this.pkHex), code, reason: f.subarray(4).toString('utf8') });
        this.ch?.end();
        return;
      }
      case T.OPEN:
        return this.onOpen(f);
      case T.ACCEPT: {
        const sid = f.readUInt32BE(3);
        const o = this.opening.get(sid);
        if (!o) return;
        this.opening.delete(sid);
        clearTimeout(o.timer);
        this.streams.set(sid, o.stream);
        o.stream.grantSend(f.readUInt32BE(7));
        o.stream.handOver(); // a RESET right behind this ACCEPT must not reach the stream before the opener does
        o.resolve(o.stream);
        return;
      }
      case T.DATA:
        return this.streams.get(f.readUInt32BE(3))?.onData(f.subarray(7));
      case T.WINDOW: {
        const s = this.streams.get(f.readUInt32BE(3));
        const inc = f.readUInt32BE(7);
        // 0: the far end waits for credit (window sizing); older clients send none.
        return inc === 0 ? s?.onBlocked() : s?.grantSend(inc);
      }
      case T.CLOSE:
        return this.streams.get(f.readUInt32BE(3))?.onRemoteClose();
      case T.RESET: {
        const sid = f.readUInt32BE(3);
        const code = codeName(f[7]);
        const o = this.opening.get(sid);
        if (o) {
          this.opening.delete(sid);
          clearTimeout(o.timer);
          o.reject(new MessengerError(code, resetMessage(code, o.stream)));
          return;
        }
        const s = this.streams.get(sid);
        if (s) {
          this.streams.delete(sid);
          s.onReset(new MessengerError(code, resetMessage(code, s)));
        }
        return;
      }
      default:
        throw new ProtocolError(`frame type 0x${f[0].toString(16)} is not sent by messengers`);
    }
  }

  private onOpen(f: Buffer): void {
    const sid = f.readUInt32BE(3);
    const window = f.readUInt32BE(7);
    const port = f.readUInt16BE(11);
    const from = pkToHex(f.subarray(13, 13 + PK_BYTES));
    if (sid === 0 || sid % 2 === 1 || this.streams.has(sid)) throw new ProtocolError(`bad inbound stream id ${sid}`);
    const handler = this.owner.listener(port);
    if (!handler) {
      this.sendReset(sid, 'refused');
      return;
    }
    const s = new RelayStream(this, sid, from, port, this.tuner());
    this.streams.set(sid, s);
    s.grantSend(window);
    this.send(encodeSidU32(T.ACCEPT, sid, s.receiveWindow));
    try {
      handler(s, from);
    } catch (err) {
      log.warn('stream handler threw', { port, err });
      s.destroy();
    }
  }
}

function resetMessage(code: string, s: RelayStream): string {
  const where = `${shortPk(s.remotePk)}:${s.port}`;
  switch (code) {
    case 'offline':
      return `${shortPk(s.remotePk)} is not connected to this messenger`;
    case 'refused':
      return `nothing listens on ${where}`;
    case 'peer_gone':
      return `stream to ${where}: the far end's connection to the messenger dropped`;
    case 'limit':
      return `stream to ${where}: too many streams`;
    default:
      return `stream to ${where} reset (${code})`;
  }
}

/** The `cluster` field of a HELLO reply (16 hex digits), ignored when malformed. */
export function clusterOf(reply: Buffer): string | undefined {
  try {
    const v = JSON.parse(reply.toString('utf8')) as { cluster?: unknown } | null;
    const c = v !== null && typeof v === 'object' ? v.cluster : undefined;
    return typeof c === 'string' && /^[0-9a-f]{16}$/.test(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `observed` field of a HELLO reply, kept only if it is an IP address and port (a messenger's word is
 * checked like any peer input; anything else is ignored, as from a messenger that does not send it).
 */
export function observedOf(reply: Buffer): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(reply.toString('utf8'));
  } catch {
    return undefined;
  }
  const o = v !== null && typeof v === 'object' ? (v as { observed?: unknown }).observed : undefined;
  if (typeof o !== 'string' || o.length > 64) return undefined;
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9a-fA-F:.]+)\]):(\d{1,5})$/.exec(o);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) return undefined;
  if (m[1] && isIP(m[1]) !== 4) return undefined;
  if (m[2] && isIP(m[2]) !== 6) return undefined;
  return o;
}
