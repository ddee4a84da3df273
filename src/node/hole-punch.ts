// Hole punching (docs/reachability.md): upgrades a relayed transport between two nodes behind NAT routers to a
// direct TCP connection by coordinated simultaneous open, the technique of libp2p's DCUtR, coordinated over the
// relayed transport itself (PUNCH packets, punch-message.ts):
//   dialer -> peer   connect {id, port}   the local port the dialer will dial from; the dialer starts a clock
//   peer -> dialer   connect {id, port}   the peer's port, sent at once (the round trip measures the relay)
//   dialer -> peer   sync {id}            the peer dials on receipt, the dialer half a round trip later
// Both dial the other's messenger-listed IPs at the named port (simultaneous-open.ts); the dialer of the relayed
// transport runs the secure handshake as initiator, the peer as responder, checking the key.
import { randomInt } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { secureAccept, secureConnect, type SecureChannel } from '../net/secure.js';
import type { Logger } from '../util/log.js';
import { parseHostPort } from '../util/hostport.js';
import type { Transport } from './transport.js';
import { decodePunch, sendPunch, type PunchMessage } from './punch-message.js';
import { freePort, simultaneousOpen } from './simultaneous-open.js';

const REPLY_MS = 3000;
const SYNC_WAIT_MS = 5000;
const OPEN_MS = 3000;
const HANDSHAKE_MS = 5000;
const FIRST_PAUSE_MS = 2000;
const MAX_PAUSE_MS = 60_000;
/** Refusals that bound what a peer can make us do: one punch per peer at a time, at most one a second from it,
 *  at most this many accepted a minute in all and this many at once. */
const PEER_GAP_MS = 1000;
const MAX_PER_MINUTE = 30;
const MAX_AT_ONCE = 8;
/** Addresses of the peer's entry dialed at most. */
const MAX_IPS = 4;

export interface HolePuncherOptions {
  localKey: KeyPair;
  log: Logger;
  /** The addresses the peer's messenger entry lists ("HOST:PORT"), and whether it says it answers punches. */
  peer(pk: string): Promise<{ addresses: readonly string[]; punches: boolean }>;
  /** The relayed transport to `pk` that a punched channel would replace, if there still is one. */
  relayedTo(pk: string): Transport | undefined;
  /** A punched, authenticated channel to `pk`; `initiator`: we ran the handshake as initiator. */
  onChannel(ch: SecureChannel, pk: string, initiator: boolean): void;
}

interface Answering {
  id: number;
  theirPort: number;
  localPort: number;
  ips: Promise<string[]>;
  timer: NodeJS.Timeout;
}

/**
 * Not worth a punch, and not for a peer to point us at: loopback, unspecified, link-local, multicast, private
 * (RFC 1918, shared 100.64/10, IPv6 ULA) addresses. Two nodes on one private network reach each other by a
 * direct dial; a punch is between public addresses, and a peer must not make us probe our own LAN.
 */
const NOT_PUNCHED = /^(?:0\.|10\.|127\.|169\.254\.|172\.(?:1[6-9]|2\d|3[01])\.|192\.168\.|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|2(?:2[4-9]|[3-5]\d)\.)|^(?:::1?|f[c-d]|fe[89ab]|ff)/i;

/** IPs to punch to: the public IPs of the peer's announced addresses, four at most. */
export function punchIps(addresses: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of addresses) {
    let host: string;
    try {
      host = parseHostPort(a).host;
    } catch {
      continue;
    }
    if (!isIP(host) || NOT_PUNCHED.test(host)) continue;
    if (!out.includes(host)) out.push(host);
    if (out.length === MAX_IPS) break;
  }
  return out;
}

export class HolePuncher {
  /** Dialer side: the reply awaited per peer. */
  private readonly asking = new Map<string, { id: number; resolve(m: PunchMessage): void }>();
  /** Peer side: the punch agreed per peer, waiting for its sync. */
  private readonly answering = new Map<string, Answering>();
  private readonly lastAsked = new Map<string, number>();
  private accepted: number[] = [];
  private readonly backoff = new Map<string, { next: number; pauseMs: number }>();
  /** Peers whose failed punch was logged at the default level (once, until one succeeds). */
  private readonly warned = new Set<string>();
  private closed = false;

  constructor(private readonly o: HolePuncherOptions) {}

  close(): void {
    this.closed = true;
    for (const a of this.answering.values()) clearTimeout(a.timer);
    this.answering.clear();
  }

  /** Forgets a peer whose transport went away. */
  forget(pk: string): void {
    this.backoff.delete(pk);
    this.warned.delete(pk);
  }

  /** Whether a punch to `pk` may start now (none running, and its backoff after a failure is over). */
  due(pk: string, now = Date.now()): boolean {
    return !this.asking.has(pk) && now >= (this.backoff.get(pk)?.next ?? 0);
  }

  /**
   * Dialer side, on a relayed transport we dialed: punches and hands the channel over, or logs why not and
   * backs off (2 s, doubling to 60 s). Never rejects.
   */
  async punch(t: Transport): Promise<boolean> {
    if (this.closed || !t.initiator || t.kind !== 'relayed' || !this.due(t.pk)) return false;
    const started = Date.now();
    try {
      const ch = await this.dialerPunch(t);
      if (this.closed || this.o.relayedTo(t.pk) !== t) {
        ch.destroy();
        return false;
      }
      this.backoff.delete(t.pk);
      this.warned.delete(t.pk);
      this.o.log.info('hole punched', { peer: shortPk(t.pk), ms: Date.now() - started });
      this.o.onChannel(ch, t.pk, true);
      return true;
    } catch (err) {
      const last = this.backoff.get(t.pk);
      const pauseMs = last ? Math.min(MAX_PAUSE_MS, last.pauseMs * 2) : FIRST_PAUSE_MS;
      this.backoff.set(t.pk, { next: Date.now() + pauseMs, pauseMs });
      const first = !this.warned.has(t.pk);
      this.warned.add(t.pk);
      this.o.log[first ? 'warn' : 'debug']('hole punch failed, the transport stays relayed', {
        peer: shortPk(t.pk),
        why: (err as Error).message,
        retryInS: pauseMs / 1000,
      });
      return false;
    } finally {
      this.asking.delete(t.pk);
    }
  }

  private async dialerPunch(t: Transport): Promise<SecureChannel> {
    const id = randomInt(1, 0x7fffffff);
    const reply = new Promise<PunchMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the peer did not answer the punch request within ${REPLY_MS} ms`)), REPLY_MS);
      this.asking.set(t.pk, {
        id,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
    reply.catch(() => {});
    const peer = await this.o.peer(t.pk);
    if (!peer.punches) throw new Error('the peer does not answer hole punches (an older node)');
    const ips = punchIps(peer.addresses);
    if (!ips.length) throw new Error('the peer announces no public IP address to punch to');
    const localPort = await freePort();
    const sent = performance.now();
    if (!sendPunch(t, { punch: 'connect', id, port: localPort }) && t.isClosed) throw new Error('the relayed transport closed');
    const m = await reply;
    if (m.punch === 'refuse') throw new Error(`the peer refused: ${m.why}`);
    if (m.punch !== 'connect') throw new Error(`unexpected punch answer "${m.punch}"`);
    const rtt = performance.now() - sent;
    sendPunch(t, { punch: 'sync', id });
    await new Promise((r) => setTimeout(r, rtt / 2));
    const sock = await simultaneousOpen({ ips, port: m.port, localPort, deadlineMs: OPEN_MS }).catch((err: Error) => {
      throw new Error(`${err.message}: the routers let no SYN through (a router that gives each connection a new port, as masquerade random or a symmetric NAT does, defeats punching)`, { cause: err });
    });
    return this.secure(sock, () => secureConnect(sock, Buffer.from(t.pk, 'hex'), { localKey: this.o.localKey, handshakeTimeoutMs: HANDSHAKE_MS }));
  }

  private async secure(sock: Socket, handshake: () => Promise<SecureChannel>): Promise<SecureChannel> {
    try {
      return await handshake();
    } catch (err) {
      sock.destroy();
      throw new Error(`punched connection to ${sock.remoteAddress}:${sock.remotePort}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** A PUNCH packet from the peer of `t`. */
  onMessage(t: Transport, payload: Buffer): void {
    const m = decodePunch(payload);
    if (typeof m === 'string') {
      this.o.log.debug('punch message dropped', { peer: shortPk(t.pk), why: m });
      return;
    }
    if (t.initiator) {
      // We dialed this transport: only answers to our own request count.
      const a = this.asking.get(t.pk);
      if (a && a.id === m.id && m.punch !== 'sync') a.resolve(m);
      return;
    }
    if (m.punch === 'connect') void this.onRequest(t, m);
    else if (m.punch === 'sync') void this.onSync(t, m.id);
  }

  private refusal(t: Transport, now: number): string | undefined {
    if (this.closed) return 'shutting down';
    if (t.kind !== 'relayed' || t.isRetiring || this.o.relayedTo(t.pk) !== t) return 'not a relayed transport';
    if (now - (this.lastAsked.get(t.pk) ?? 0) < PEER_GAP_MS) return `at most one punch a ${PEER_GAP_MS} ms per peer`;
    this.accepted = this.accepted.filter((x) => now - x < 60_000);
    if (this.accepted.length >= MAX_PER_MINUTE) return `at most ${MAX_PER_MINUTE} punches a minute`;
    if (this.answering.size >= MAX_AT_ONCE && !this.answering.has(t.pk)) return `at most ${MAX_AT_ONCE} punches at once`;
    return undefined;
  }

  private async onRequest(t: Transport, m: { id: number; port: number }): Promise<void> {
    const now = Date.now();
    const why = this.refusal(t, now);
    if (why) {
      sendPunch(t, { punch: 'refuse', id: m.id, why });
      return;
    }
    this.lastAsked.set(t.pk, now);
    if (this.lastAsked.size > 1024) for (const [pk, at] of this.lastAsked) if (now - at > PEER_GAP_MS) this.lastAsked.delete(pk);
    this.accepted.push(now);
    const old = this.answering.get(t.pk);
    if (old) clearTimeout(old.timer);
    // Answer first: the dialer's clock runs, and the round trip it measures should be the relay's alone.
    const localPort = await freePort();
    const ips = this.o.peer(t.pk).then((p) => punchIps(p.addresses), () => []);
    const timer = setTimeout(() => {
      if (this.answering.get(t.pk)?.id === m.id) this.answering.delete(t.pk);
    }, SYNC_WAIT_MS);
    timer.unref();
    this.answering.set(t.pk, { id: m.id, theirPort: m.port, localPort, ips, timer });
    sendPunch(t, { punch: 'connect', id: m.id, port: localPort });
  }

  private async onSync(t: Transport, id: number): Promise<void> {
    const a = this.answering.get(t.pk);
    if (!a || a.id !== id) return;
    this.answering.delete(t.pk);
    clearTimeout(a.timer);
    try {
      const ips = await a.ips;
      if (!ips.length) throw new Error('the dialer announces no public IP address to punch to');
      const sock = await simultaneousOpen({ ips, port: a.theirPort, localPort: a.localPort, deadlineMs: OPEN_MS });
      const ch = await this.secure(sock, () => secureAccept(sock, { localKey: this.o.localKey, handshakeTimeoutMs: HANDSHAKE_MS }));
      if (pkToHex(ch.remotePublicKey) !== t.pk) {
        ch.destroy();
        throw new Error(`the punched connection authenticated ${shortPk(ch.remotePublicKey)}, not the peer`);
      }
      if (this.closed || this.o.relayedTo(t.pk) !== t) {
        ch.destroy();
        return;
      }
      this.o.onChannel(ch, t.pk, false);
    } catch (err) {
      // The dialer logs the failure at the default level; here it is detail.
      this.o.log.debug('hole punch (answering) failed', { peer: shortPk(t.pk), why: (err as Error).message });
    }
  }
}
