// What a node does with its managers' control messages (docs/routing.md, Control messages): each message is
// decoded and shape-checked by the control protocol module before anything changes, then reserve ids, install
// rules, remove a route, drop a repaired route's old rules, or move a route end to its new path.
import { shortPk } from '../net/keys.js';
import { ControlError, type ControlMessage } from '../net/control-link.js';
import type { Logger } from '../util/log.js';
import { decodeManagerMessage, MAX_RESERVED_PER_MANAGER, type InstallRule, type ReserveReply } from '../routing/control-protocol.js';
import type { RoutingTable } from './routing-table.js';
import type { RouteEnds } from './route-ends.js';

export interface ControlHandlerOptions {
  table: RoutingTable;
  ends: RouteEnds;
  pkHex: string;
  log: Logger;
  /** Whether an app (or the echo service) listens on a local port: a route to any other is refused. */
  isListening(port: number): boolean;
}

export class ControlHandler {
  /** Route ids reserved by each manager and not yet used. */
  private readonly pools = new Map<string, Set<number>>();

  constructor(private readonly o: ControlHandlerOptions) {}

  /** A request or notification from manager `mpk`; the return value is merged into the reply. */
  handle(mpk: string, raw: ControlMessage): ReserveReply | void {
    const m = decodeManagerMessage(raw);
    const table = this.o.table;
    switch (m?.t) {
      case 'reserve': {
        // A pool of ids the manager hands out at route setup, saving a round trip per route; held for as long
        // as the manager link lives, and bounded per manager.
        const pool = this.pools.get(mpk) ?? new Set<number>();
        if (pool.size + m.count > MAX_RESERVED_PER_MANAGER) {
          throw new ControlError('busy', `this manager already holds ${pool.size} reserved route ids (at most ${MAX_RESERVED_PER_MANAGER})`);
        }
        const ids = table.reserve(m.count, '', Date.now(), Infinity);
        this.pools.set(mpk, pool);
        for (const id of ids) pool.add(id);
        return { ids };
      }
      case 'install':
        return this.install(mpk, m.routeKey, m.rules);
      case 'remove':
        return this.o.ends.remove(m.routeKey, m.reason);
      case 'removeIds':
        // The rules of a repaired route's old path.
        for (const id of m.ids) if (table.get(id)?.kind === 'intermediary') table.delete(id);
        return;
      case 'switch':
        return this.o.ends.switchPath(m.routeKey);
      case undefined:
        this.o.log.debug('unknown manager message', { manager: shortPk(mpk), t: raw.t });
    }
  }

  /** The manager's link is gone: the ids it reserved and did not use are freed. */
  dropManager(mpk: string): void {
    for (const id of this.pools.get(mpk) ?? []) this.o.table.delete(id);
    this.pools.delete(mpk);
  }

  /** Every rule is checked (its id reserved by this manager, a new end's port listened on) before any is installed. */
  private install(mpk: string, routeKey: string, rules: InstallRule[]): void {
    const pool = this.pools.get(mpk);
    for (const r of rules) {
      if (!pool?.has(r.routeId)) throw new ControlError('bad_request', `route id ${r.routeId} was not reserved by this manager`);
      if (r.kind === 'consume' && 'end' in r) {
        if (this.o.ends.has(routeKey)) throw new ControlError('bad_request', `route ${routeKey} already has an end here`);
        if (!r.end.initiator && !this.o.isListening(r.end.localPort)) {
          throw new ControlError('refused', `nothing listens on port ${r.end.localPort} at ${shortPk(this.o.pkHex)}`);
        }
      }
    }
    for (const r of rules) pool!.delete(r.routeId);
    for (const r of rules) {
      if (r.kind === 'intermediary') {
        this.o.table.install({ id: r.routeId, kind: 'intermediary', routeKey, nextPk: r.nextPk, nextRouteId: r.nextRouteId, fromPk: r.fromPk });
      } else if ('reroute' in r) {
        this.o.ends.prepareSwitch(routeKey, r.routeId, r.fromPk, r.reroute);
      } else {
        this.o.ends.create(routeKey, r.routeId, r.fromPk, r.end);
      }
    }
  }
}
