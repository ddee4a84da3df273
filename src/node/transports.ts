// A node's transports to its neighbours: dialing (direct TCP to an announced address, else relayed by the
// messenger, then upgraded to direct or punched when possible: hole-punch.ts), keeping the ones the operator
// wants (retried with backoff, peer-retry.ts), auto-connect, and the tie-break when two nodes dial each other at
// once. Emits 'up' (transport), 'upgraded' (transport) and 'down' (transport, reason).
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type KeyPair, shortPk } from '../net/keys.js';
import { secureConnect } from '../net/secure.js';
import type { MessengerClient } from '../messenger/client.js';
import type { Logger } from '../util/log.js';
import type { Packet } from './packet.js';
import { Transport, type TransportInfo, type TransportOptions } from './transport.js';
import { PeerRetries, type PeerState, type RetryPolicy } from './peer-retry.js';
import { KIND_TRANSPORT, TRANSPORT_PORT, type ChannelKind } from './channels.js';
import { AppApiError } from './sdk/errors.js';
import { dialFirst } from './dial-first.js';
import { HolePuncher } from './hole-punch.js';

export { dialFirst } from './dial-first.js';

/** Messenger service every node announces (auto-connect looks for it). */
export const NODE_SERVICE = 'skywire-node';
/** What a node says of itself in that service: it answers hole punches (older nodes would take PUNCH for garbage). */
export const NODE_SERVICE_ATTRS = { punch: '1' };
const HANDSHAKE_MS = 5000;
const RECHECK_RELAYED_MS = 2000;
/** A link relayed because its peer announced no address is reported at the default level if it stays so this long. */
const RELAYED_WARN_MS = 15_000;
const UPGRADE_FIRST_PAUSE_MS = 2000;

export interface TransportsOptions {
  localKey: KeyPair;
  pkHex: string;
  messenger: MessengerClient;
  log: Logger;
  transport?: TransportOptions;
  /** Direct transports only via relay (for tests of relayed transports). */
  relayOnly?: boolean;
  retry?: RetryPolicy;
  autoConnectMax?: number;
  /** How often relayed transports this node dialed are re-checked for an upgrade to direct (default 2 s). */
  recheckRelayedMs?: number;
  /** Where the packets of every transport go (attached before the transport reads). */
  onPacket(p: Packet, from: Transport): void;
}

export class Transports extends EventEmitter {
  private readonly byPk = new Map<string, Transport>();
  private readonly wanted = new Set<string>();
  /** Peers the operator removed: auto-connect leaves them alone. */
  private readonly excluded = new Set<string>();
  private readonly dialing = new Map<string, Promise<Transport>>();
  private readonly retries: PeerRetries;
  /** Per relayed peer: the addresses last tried for an upgrade, and when to try the same ones again. */
  private readonly upgradeTries = new Map<string, { addresses: string; next: number; pauseMs: number }>();
  /** Peers whose relayed transport was reported at the default level (so is its upgrade). */
  private readonly warnedRelayed = new Set<string>();
  private readonly recheckTimer: NodeJS.Timeout;
  private readonly puncher: HolePuncher;
  private rechecking = false;
  private closed = false;

  constructor(private readonly o: TransportsOptions) {
    super();
    this.retries = new PeerRetries(o.retry);
    this.puncher = new HolePuncher({
      localKey: o.localKey,
      log: o.log,
      peer: async (pk) => {
        const e = await o.messenger.lookup(pk);
        return { addresses: e?.addresses ?? [], punches: !!e?.services.some((s) => s.name === NODE_SERVICE && s.attrs?.punch === '1') };
      },
      relayedTo: (pk) => {
        const t = this.byPk.get(pk);
        return t && t.kind === 'relayed' && !t.isClosed && !t.isRetiring ? t : undefined;
      },
      onChannel: (ch, pk, initiator) => this.add(ch, pk, 'punched', initiator),
    });
    this.recheckTimer = setInterval(() => void this.recheckRelayed(), o.recheckRelayedMs ?? RECHECK_RELAYED_MS);
    this.recheckTimer.unref();
  }

  get(pk: string): Transport | undefined {
    return this.byPk.get(pk);
  }

  list(): Transport[] {
    return [...this.byPk.values()];
  }

  close(reason: string): void {
    this.closed = true;
    clearInterval(this.recheckTimer);
    this.retries.close();
    this.puncher.close();
    for (const t of this.byPk.values()) t.close(reason);
  }

  /** Keeps a transport to `pk`, reconnecting when it drops. */
  want(pk: string): void {
    if (pk === this.o.pkHex || this.closed) return;
    this.wanted.add(pk);
    if (!this.byPk.has(pk)) void this.connectTo(pk).catch((err: unknown) => this.scheduleRetry(pk, err));
  }

  private unwant(pk: string): void {
    this.wanted.delete(pk);
    this.excluded.add(pk);
    this.retries.forget(pk);
    this.byPk.get(pk)?.close('removed by the operator');
  }

  /** Schedules the next try to reach a wanted peer; `err` = the try that just failed (counted). */
  private scheduleRetry(pk: string, err?: unknown): void {
    if (this.closed || !this.wanted.has(pk)) return;
    const retry = () => {
      if (this.byPk.has(pk) || !this.wanted.has(pk)) return;
      this.connectTo(pk).catch((e: unknown) => this.scheduleRetry(pk, e));
    };
    this.retries.schedule(pk, retry, err);
  }

  /** Wanted peers without a transport: trying, retrying quickly, or backing off to the long interval. */
  pending(): PeerState[] {
    return [...this.wanted].filter((pk) => !this.byPk.has(pk)).map((pk) => this.retries.state(pk, this.dialing.has(pk)));
  }

  /** Sets up a transport to `pk`: direct TCP to an announced address, else relayed by the messenger. */
  connectTo(pk: string): Promise<Transport> {
    const existing = this.byPk.get(pk);
    if (existing && !existing.isClosed) return Promise.resolve(existing);
    let p = this.dialing.get(pk);
    if (p) return p;
    p = this.dial(pk).finally(() => this.dialing.delete(pk));
    this.dialing.set(pk, p);
    return p;
  }

  private async dial(pk: string): Promise<Transport> {
    const pkBuf = Buffer.from(pk, 'hex');
    const entry = await this.o.messenger.lookup(pk);
    if (!entry) throw new AppApiError('offline', `node ${shortPk(pk)} is not registered with the messenger`);
    const errors: string[] = [];
    const opts = { localKey: this.o.localKey, handshakeTimeoutMs: HANDSHAKE_MS };
    if (!this.o.relayOnly && entry.addresses.length) {
      try {
        const ch = await dialFirst(entry.addresses, pkBuf, opts);
        ch.write(Buffer.from([KIND_TRANSPORT]));
        return this.add(ch, pk, 'direct', true);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const why = this.o.relayOnly
      ? '--relay-only'
      : entry.addresses.length
        ? `no announced address answered: ${errors.join('; ')}`
        : 'the peer announces no address (it listens on none, or has not announced yet)';
    try {
      const ch = await secureConnect(await this.o.messenger.open(pk, TRANSPORT_PORT), pkBuf, opts);
      ch.write(Buffer.from([KIND_TRANSPORT]));
      const t = this.add(ch, pk, 'relayed', true);
      const addressesFailed = !this.o.relayOnly && entry.addresses.length > 0;
      this.reportRelayed(t, why, addressesFailed);
      // Both behind NAT, perhaps: punch through at once rather than at the next re-check.
      if (addressesFailed) void this.puncher.punch(t);
      return t;
    } catch (err) {
      errors.push((err as Error).message);
      throw new AppApiError('unreachable', `cannot reach ${shortPk(pk)}: ${errors.join('; ')}`);
    }
  }

  /**
   * Relayed costs the messenger's bandwidth, so it is a warning: at once when the announced addresses failed; when
   * the peer announced none (normal while nodes start), only if still relayed RELAYED_WARN_MS later.
   */
  private reportRelayed(t: Transport, why: string, addressesFailed: boolean): void {
    const fields = { peer: shortPk(t.pk), why };
    if (this.o.relayOnly) return this.o.log.info('transport relayed by the messenger', fields);
    const warn = () => {
      this.warnedRelayed.add(t.pk);
      this.o.log.warn('transport relayed by the messenger', fields);
    };
    if (addressesFailed) return warn();
    this.o.log.info('transport relayed by the messenger', fields);
    setTimeout(() => {
      if (this.byPk.get(t.pk) === t && !t.isClosed && !t.isRetiring) warn();
    }, RELAYED_WARN_MS).unref();
  }

  /** Takes a channel (dialed, or accepted with its first byte read) as the transport to `pk`. */
  add(ch: Duplex, pk: string, kind: ChannelKind, initiator: boolean): Transport {
    const t = new Transport(ch, pk, kind, initiator, this.o.transport);
    const old = this.byPk.get(pk);
    if (old && !old.isClosed && !old.isRetiring && old.kind === 'relayed' && kind !== 'relayed') {
      return this.upgrade(old, t);
    }
    if (old && !old.isClosed) {
      // Both sides dialed at once: keep the transport dialed by the smaller key, on both sides alike.
      const initOf = (x: Transport) => (x.initiator ? this.o.pkHex : x.pk);
      if (initOf(t) > initOf(old)) {
        t.close('duplicate transport');
        return old;
      }
      this.byPk.set(pk, t);
      old.close('duplicate transport');
    } else {
      this.byPk.set(pk, t);
    }
    this.wire(t);
    this.o.log.info('transport up', { peer: shortPk(pk), kind, initiator });
    this.emit('up', t);
    return t;
  }

  /**
   * A direct (or punched) transport replaces a relayed one to the same peer without a 'down': routes keep their next hop
   * (looked up by key on every send), the relayed one retires (half-closed after our last packet on it), and
   * the direct one is read only once the peer's last packet on the relayed one arrived, so nothing reorders.
   */
  private upgrade(old: Transport, t: Transport): Transport {
    this.byPk.set(t.pk, t);
    this.wire(t);
    t.pauseReading(old);
    old.once('close', () => t.resumeReading(old));
    old.retire(`replaced by a ${t.kind} transport`, !t.initiator);
    this.upgradeTries.delete(t.pk);
    const level = this.warnedRelayed.delete(t.pk) ? 'warn' : 'info';
    this.o.log[level](`relayed transport upgraded to ${t.kind}`, { peer: shortPk(t.pk), initiator: t.initiator });
    this.emit('upgraded', t);
    return t;
  }

  private wire(t: Transport): void {
    t.on('packet', (p: Packet) => this.o.onPacket(p, t));
    t.on('close', (reason: string) => this.onClosed(t, reason));
    t.on('punch', (payload: Buffer) => this.puncher.onMessage(t, payload));
    t.channel.resume();
    this.retries.succeeded(t.pk);
  }

  /**
   * Re-checks the relayed transports this node dialed: when the peer announces an address (again, or later
   * than our dial), dials it directly and upgrades. One lookup per relayed transport per sweep; a peer whose
   * addresses did not answer is tried again only when they change or after a growing pause (2 s to 60 s).
   */
  private async recheckRelayed(): Promise<void> {
    if (this.closed || this.o.relayOnly || this.rechecking) return;
    this.rechecking = true;
    try {
      const now = Date.now();
      for (const t of [...this.byPk.values()]) {
        if (t.kind !== 'relayed' || !t.initiator || t.isClosed || t.isRetiring) continue;
        const entry = await this.o.messenger.lookup(t.pk).catch(() => null);
        if (!entry?.addresses.length || this.byPk.get(t.pk) !== t) continue;
        if (await this.dialAnnounced(t, entry.addresses, now)) continue;
        // The announced addresses do not answer (both behind NAT, without a forward): punch.
        if (this.byPk.get(t.pk) === t && this.puncher.due(t.pk)) void this.puncher.punch(t);
      }
    } finally {
      this.rechecking = false;
    }
  }

  /** Dials a relayed peer's announced addresses if due (they changed, or their pause is over); true: upgraded. */
  private async dialAnnounced(t: Transport, addresses: string[], now: number): Promise<boolean> {
    const key = addresses.join(' ');
    const last = this.upgradeTries.get(t.pk);
    if (last && last.addresses === key && now < last.next) return false;
    const pauseMs = last && last.addresses === key ? Math.min(60_000, last.pauseMs * 2) : UPGRADE_FIRST_PAUSE_MS;
    this.upgradeTries.set(t.pk, { addresses: key, next: now + pauseMs, pauseMs });
    try {
      const ch = await dialFirst(addresses, Buffer.from(t.pk, 'hex'), { localKey: this.o.localKey, handshakeTimeoutMs: HANDSHAKE_MS });
      if (this.closed || this.byPk.get(t.pk) !== t || t.isClosed || t.isRetiring) {
        ch.destroy();
        return this.byPk.get(t.pk) !== t;
      }
      ch.write(Buffer.from([KIND_TRANSPORT]));
      this.add(ch, t.pk, 'direct', true);
      return true;
    } catch (err) {
      this.o.log.debug('relayed transport stays relayed', { peer: shortPk(t.pk), err: err as Error });
      return false;
    }
  }

  private onClosed(t: Transport, reason: string): void {
    if (this.byPk.get(t.pk) !== t) return;
    this.byPk.delete(t.pk);
    this.upgradeTries.delete(t.pk);
    this.warnedRelayed.delete(t.pk);
    this.puncher.forget(t.pk);
    this.o.log.info('transport down', { peer: shortPk(t.pk), reason });
    this.emit('down', t, reason);
    this.scheduleRetry(t.pk);
  }

  /** Wants every node the messenger lists, up to autoConnectMax transports. */
  async autoConnect(): Promise<void> {
    try {
      const { entries } = await this.o.messenger.query({ service: NODE_SERVICE, limit: 100 });
      let n = this.byPk.size;
      for (const e of entries) {
        if (n >= (this.o.autoConnectMax ?? 16)) break;
        if (e.pk !== this.o.pkHex && !this.byPk.has(e.pk) && !this.excluded.has(e.pk)) {
          n++;
          this.want(e.pk);
        }
      }
    } catch (err) {
      this.o.log.debug('auto-connect query failed', { err });
    }
  }

  /** The app API's `transports` verb: ls, add PK (kept and retried), rm PK. */
  async command(action: string, pk?: string): Promise<{ transports: TransportInfo[]; pending: PeerState[] }> {
    if (action !== 'ls') {
      if (!pk || !/^[0-9a-fA-F]{66}$/.test(pk)) throw new AppApiError('bad_request', `"${pk ?? ''}" is not a public key (66 hex characters)`);
      pk = pk.toLowerCase();
      if (pk === this.o.pkHex) throw new AppApiError('bad_request', 'a node needs no transport to itself');
    }
    if (action === 'add') {
      this.wanted.add(pk!);
      this.excluded.delete(pk!);
      await this.connectTo(pk!).catch((err: Error) => {
        this.scheduleRetry(pk!, err);
        const s = this.retries.state(pk!, false);
        throw new AppApiError(
          (err as AppApiError).code ?? 'unreachable',
          `${err.message}; retrying in the background (${s.failures} failed, ${this.retries.fastTries} quick tries, then one every ` +
            `${Math.round(this.retries.slowMs / 1000)} s); "skywire node transports rm ${pk}" stops it`,
        );
      });
    } else if (action === 'rm') {
      if (!this.byPk.has(pk!) && !this.wanted.has(pk!)) throw new AppApiError('not_found', `no transport to ${shortPk(pk!)}`);
      this.unwant(pk!);
    } else if (action !== 'ls') {
      throw new AppApiError('bad_request', `unknown transports action "${action}" (add, rm or ls)`);
    }
    return { transports: this.list().map((t) => t.info()), pending: this.pending() };
  }
}
