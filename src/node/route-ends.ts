// The ends of routes at this node: created when a manager installs a route's consume rule with an `end`, each
// wrapped in the end-to-end secure channel (the dialer's end runs the handshake as initiator, the destination's
// as responder and hands the stream to its app), moved to a new path on `switch`, and gone when both directions
// are done, the route is removed or its rules expire. This file owns the ends' rules in the routing table.
import type { Duplex } from 'node:stream';
import { type KeyPair, pkToHex, shortPk } from '../net/keys.js';
import { secureAccept, secureConnect, type SecureChannel } from '../net/secure.js';
import { ControlError } from '../net/control-link.js';
import { type CipherNegotiation, e2eCipherPolicy } from '../net/e2e-cipher.js';
import type { Logger } from '../util/log.js';
import type { RouteEndSpec } from '../routing/control-protocol.js';
import type { Packet } from './packet.js';
import type { RoutingTable } from './routing-table.js';
import type { Transport } from './transport.js';
import { RouteEnd, RouteEndError } from './route-end.js';
import { ECHO_PORT } from './sdk/protocol.js';

const END_TO_END_HANDSHAKE_MS = 10_000;

export interface RouteEndsOptions {
  localKey: KeyPair;
  table: RoutingTable;
  log: Logger;
  transportTo(pk: string): Transport | undefined;
  /** A stream dialed to a local app port, authenticated end to end. */
  incoming(localPort: number, remote: { pk: string; port: number }, stream: Duplex): void;
  /** Both directions of a route end are done (the managers are told). */
  closed(routeKey: string): void;
  /** Overrides SKYWIRE_E2E_CIPHER (tests). */
  cipherNegotiation?: CipherNegotiation;
}

export class RouteEnds {
  private readonly ends = new Map<string, RouteEnd>();
  /** New paths of routes under repair, installed and waiting for the manager's "switch". */
  private readonly pendingSwitch = new Map<string, { inRouteId: number; outPk: string; outRouteId: number }>();

  /** AES-256-GCM end to end when both ends offer it (SKYWIRE_E2E_CIPHER, read once at start: a bad value fails it). */
  private readonly cipher: CipherNegotiation;

  constructor(private readonly o: RouteEndsOptions) {
    this.cipher = o.cipherNegotiation ?? e2eCipherPolicy();
  }

  has(routeKey: string): boolean {
    return this.ends.has(routeKey);
  }

  list(): RouteEnd[] {
    return [...this.ends.values()];
  }

  /** A packet on the consume rule of route `routeKey`. */
  deliver(routeKey: string, p: Packet, from: Transport): void {
    this.ends.get(routeKey)?.deliver(p, from);
  }

  /** A new end of route `routeKey`, packets for it arriving with `inRouteId` from neighbour `fromPk`. */
  create(routeKey: string, inRouteId: number, fromPk: string, spec: RouteEndSpec): void {
    const table = this.o.table;
    const inRule = table.install({ id: inRouteId, kind: 'consume', routeKey, fromPk });
    const outRule = table.install({ kind: 'forward', routeKey, nextPk: spec.outPk, nextRouteId: spec.outRouteId });
    const end = new RouteEnd({ transportTo: (pk) => this.o.transportTo(pk) }, { ...spec, routeKey, inRouteId }, { inRule, outRule });
    this.ends.set(routeKey, end);
    end.on('error', () => {});
    end.once('close', () => this.onClosed(end));
    if (!spec.initiator) this.accept(end);
  }

  /** Installs the new inbound rule of a route under repair; the end moves to it on `switchPath`. */
  prepareSwitch(routeKey: string, inRouteId: number, fromPk: string, next: { outPk: string; outRouteId: number }): void {
    const end = this.ends.get(routeKey);
    if (!end || !end.repairable) throw new ControlError('not_repairable', `stream ${routeKey} cannot move to a new path`);
    this.o.table.install({ id: inRouteId, kind: 'consume', routeKey, fromPk });
    this.pendingSwitch.set(routeKey, { inRouteId, ...next });
  }

  /** The manager's `switch`: the end drops its old rules and moves to the path prepared for it. */
  switchPath(routeKey: string): void {
    const table = this.o.table;
    const end = this.ends.get(routeKey);
    const next = this.pendingSwitch.get(routeKey);
    this.pendingSwitch.delete(routeKey);
    if (!end || !next || !end.repairable) throw new ControlError('not_repairable', `stream ${routeKey} cannot move to a new path`);
    for (const id of end.ruleIds) table.delete(id);
    const outRule = table.install({ kind: 'forward', routeKey, nextPk: next.outPk, nextRouteId: next.outRouteId });
    end.switchTo(next, { inRule: table.get(next.inRouteId), outRule });
    this.o.log.info('route moved to a new path', { route: routeKey, next: shortPk(next.outPk) });
  }

  /** The manager removed the route: its rules go, and a local end fails with `reason`. */
  remove(routeKey: string, reason: string): void {
    for (const r of this.o.table.byRouteKey(routeKey)) this.o.table.delete(r.id);
    this.ends.get(routeKey)?.destroy(new RouteEndError('broken', reason));
  }

  /** The transport to `pk` is gone: ends whose first hop it was wait for a repair (or fail after a while). */
  lostTransport(pk: string, why: string): void {
    for (const e of this.ends.values()) if (e.info.outPk === pk) e.suspend(why);
  }

  /** Periodic: keepalives for quiet ends, and the ends of routes whose rules expired fail. */
  sweep(now: number): void {
    const table = this.o.table;
    for (const e of this.ends.values()) e.tick(now, table.idleMs / 3);
    for (const r of table.expire(now)) {
      if (r.kind === 'consume') {
        this.ends.get(r.routeKey)?.destroy(new RouteEndError('expired', `route expired after ${r.idleMs} ms without traffic`));
      }
    }
  }

  destroyAll(reason: string): void {
    for (const e of this.ends.values()) e.destroy(new RouteEndError('closed', reason));
  }

  /** The dialer's end of route `routeKey`: run the end-to-end handshake with `pk` as initiator. */
  async connect(routeKey: string, pk: string): Promise<SecureChannel> {
    const end = this.ends.get(routeKey);
    if (!end) throw new Error('the node manager answered but did not install the route here');
    try {
      const ch = await secureConnect(end, Buffer.from(pk, 'hex'), this.secureOptions());
      end.handshakeDone();
      ch.on('error', () => {});
      this.logCipherAtClose(ch, routeKey);
      return ch;
    } catch (err) {
      end.destroy();
      throw err;
    }
  }

  /** Which AEAD each direction ended up using (debug: the negotiation's outcome, read by tests). */
  private logCipherAtClose(ch: SecureChannel, routeKey: string): void {
    ch.once('close', () => this.o.log.debug('end-to-end channel closed', { route: routeKey, ...ch.cipher }));
  }

  private secureOptions() {
    return { localKey: this.o.localKey, handshakeTimeoutMs: END_TO_END_HANDSHAKE_MS, cipherNegotiation: this.cipher };
  }

  /** The destination end of a new route: authenticate the dialer end to end, then hand the stream over. */
  private accept(end: RouteEnd): void {
    const { remotePk, remotePort, localPort, routeKey } = end.info;
    secureAccept(end, this.secureOptions()).then(
      (ch) => {
        end.handshakeDone();
        if (pkToHex(ch.remotePublicKey) !== remotePk) {
          this.o.log.warn('end-to-end key differs from the one the manager announced', { route: routeKey });
          ch.destroy();
          return;
        }
        ch.on('error', () => {});
        this.logCipherAtClose(ch, routeKey);
        if (localPort === ECHO_PORT) ch.pipe(ch);
        else this.o.incoming(localPort, { pk: remotePk, port: remotePort }, ch);
      },
      (err: Error) => {
        this.o.log.debug('end-to-end handshake failed', { err });
        end.destroy(err);
      },
    );
  }

  private onClosed(end: RouteEnd): void {
    const key = end.info.routeKey;
    if (this.ends.get(key) === end) this.ends.delete(key);
    for (const id of end.ruleIds) this.o.table.delete(id);
    this.o.closed(key);
  }
}
