// One connection at the messenger, as the relay sees it: a client, or (with a shared registry) another messenger
// forwarding for its clients. Both carry the same stream frames; a peer connection also carries FOPEN and
// forwarded datagrams, and requests go both ways on it.
import { pkToHex } from '../net/keys.js';
import type { SecureChannel } from '../net/secure.js';
import { LEGACY_WINDOW, setCredit } from './credit.js';
import { MessengerError } from './errors.js';
import { FrameReader, codeName, encodeReq } from './protocol.js';
import { TokenBucket } from './ratelimit.js';
import { FrameWriter } from './writer.js';

/** The limits a Conn needs (a subset of MessengerLimits). */
interface ConnLimits {
  datagramRate: number;
  datagramBurst: number;
  requestRate: number;
  requestBurst: number;
  baseWindow: number;
}

/** One direction-end of a relayed stream: the stream as seen on one connection. */
export interface Half {
  conn: Conn;
  sid: number;
  peer: Half;
  /** Bytes this end may still send: the credit the other end has granted. */
  credit: number;
  accepted: boolean;
  /** This end opened the stream. */
  opener: boolean;
  /** This end sent CLOSE (no more DATA from it). */
  closed: boolean;
  /** On a link to another messenger with a smaller window: credit granted but not passed on yet (credit.ts). */
  banked?: number;
  /** This end's "waiting for credit" hint was passed on since the last grant (credit.ts). */
  hinted?: boolean;
  /** Held back for this end while its connection does not read (deferred.ts): credit, DATA payload, a CLOSE. */
  unsent?: number;
  held?: Array<{ buf: Buffer; used: number }>;
  closeHeld?: boolean;
  /** On a link to another messenger, a forwarded open not yet accepted: where to try next if that one says offline. */
  fwd?: { port: number; target: Buffer; tried: string[] };
}

/**
 * Links two halves (a: the opener's side, already accepted; b: the side asked to accept), `a` granting `window`.
 * Returns the window to announce to `b`: less when `b` is a link to a messenger with a smaller one (credit.ts).
 */
export function pairHalves(a: Conn, aSid: number, b: Conn, bSid: number, window: number, counted: boolean): number {
  const ha = { conn: a, sid: aSid, credit: 0, accepted: true, opener: counted, closed: false } as Half;
  const hb: Half = { conn: b, sid: bSid, credit: 0, accepted: false, opener: false, closed: false, peer: ha };
  ha.peer = hb;
  a.streams.set(aSid, ha);
  b.streams.set(bSid, hb);
  const pass = b.peer ? Math.min(window, b.farWindow) : window;
  if (pass < window) hb.banked = window - pass;
  setCredit(hb, pass);
  return pass;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Conn {
  readonly pkHex: string;
  readonly streams = new Map<number, Half>();
  readonly writer: FrameWriter;
  readonly decoder = new FrameReader();
  readonly datagrams: TokenBucket;
  readonly requests: TokenBucket;
  /** Ids we pick for streams we open on this connection: even when it was accepted, odd when we dialed it. */
  nextSid: number;
  /** Streams this connection opened (the others here were opened to it), pending forwards included. */
  opened = 0;
  /** Stream ids this client opened that wait for a forward to another messenger (made when first needed:
   *  most connections never have one, and a messenger holds tens of thousands of connections). */
  private openingSids?: Set<number>;
  /** Requests of this client waiting on Redis or another messenger (bounded: see server's MAX_INFLIGHT). */
  inflight = 0;
  registered = false;
  /** Credit this connection granted beyond baseWindow on its streams (credit.ts). */
  grantedExtra = 0;
  /** Halves here with something held back until this connection drains (deferred.ts). */
  deferred?: Set<Half>;
  readonly baseWindow: number;
  /** On a link to another messenger: the largest window it takes (it said in PEER; older ones do not). */
  farWindow = LEGACY_WINDOW;
  /** The client said HELLO: it has an entry worth sharing. */
  hello = false;
  /** Another messenger of the shared registry: 'in' it dialed us, 'out' we dialed it. */
  peer: false | 'in' | 'out' = false;
  gone = false;
  lastRx = Date.now();
  /** Our requests to a peer messenger (peer links only; made when first needed). */
  private pendingReqs?: Map<number, Pending>;
  private nextReq = 1;

  constructor(
    readonly ch: SecureChannel,
    limits: ConnLimits,
    dialed = false,
  ) {
    this.pkHex = pkToHex(ch.remotePublicKey);
    this.writer = new FrameWriter(ch);
    this.datagrams = new TokenBucket(limits.datagramRate, limits.datagramBurst);
    this.requests = new TokenBucket(limits.requestRate, limits.requestBurst);
    this.nextSid = dialed ? 1 : 2;
    this.baseWindow = limits.baseWindow;
  }

  get pk(): Buffer {
    return this.ch.remotePublicKey;
  }

  isOpening(sid: number): boolean {
    return this.openingSids?.has(sid) ?? false;
  }

  startOpening(sid: number): void {
    (this.openingSids ??= new Set()).add(sid);
  }

  /** True if `sid` was waiting (and no longer is). */
  endOpening(sid: number): boolean {
    return this.openingSids?.delete(sid) ?? false;
  }

  /** A stream id for a stream we open on this connection. */
  takeSid(): number {
    const sid = this.nextSid;
    this.nextSid += 2;
    if (this.nextSid > 0xfffffff0) this.nextSid = 2 - (this.nextSid % 2); // wraps after 2^31 streams; old ids are long gone
    return sid;
  }

  /** The parity of the ids the far end picks. */
  isTheirSid(sid: number): boolean {
    return sid !== 0 && sid % 2 !== this.nextSid % 2;
  }

  /** A request to the far end (a peer messenger); resolves with the answer's payload or rejects with its code. */
  request(op: number, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.gone) return Promise.reject(new MessengerError('disconnected', 'peer messenger connection is gone'));
    const req = this.nextReq;
    this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1;
    const pending = (this.pendingReqs ??= new Map());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(req);
        reject(new MessengerError('timeout', `peer messenger did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(req, { resolve, reject, timer });
      this.writer.send(encodeReq(req, op, payload));
    });
  }

  /** A RES frame on this connection. */
  onResponse(req: number, code: number, payload: Buffer): void {
    const p = this.pendingReqs?.get(req);
    if (!p) return;
    this.pendingReqs!.delete(req);
    clearTimeout(p.timer);
    if (code === 0) p.resolve(payload);
    else p.reject(new MessengerError(codeName(code), payload.toString('utf8') || codeName(code)));
  }

  /** The connection is gone: its requests fail at once. */
  failPending(): void {
    for (const p of this.pendingReqs?.values() ?? []) {
      clearTimeout(p.timer);
      p.reject(new MessengerError('disconnected', 'peer messenger connection is gone'));
    }
    this.pendingReqs?.clear();
  }
}
