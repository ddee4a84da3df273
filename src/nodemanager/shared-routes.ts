// What a node manager sharing Redis does beyond one manager's work (docs/control-plane.md, Failover): when a node or
// transport dies, every live route through it, its own or another manager's (which may be dead), is repaired by
// exactly one manager, the first to take the route's repair lock, working from the stored record; an end's `closed`
// for a route another manager holds deletes its record; after a Redis outage our routes are written again.
import { shortPk } from '../net/keys.js';
import { createLogger } from '../util/log.js';
import { REPAIR_LOCK_MS, type SharedStore } from './shared-store.js';
import type { StoredRoute } from './shared-records.js';
import type { PathMatch, RouteRecord } from './route-record.js';

const log = createLogger('nodemanager');

/** The parts of the manager this needs. */
export interface RouteHost {
  readonly pkHex: string;
  readonly routes: Map<string, RouteRecord>;
  isLinked(pk: string): boolean;
  isClosing(): boolean;
  /** Records a route in Redis (claiming its ids); see NodeManager.claim. */
  claim(r: RouteRecord): Promise<void>;
  repair(r: RouteRecord, reason: string): Promise<void>;
  forget(r: RouteRecord): void;
}

export class SharedRoutes {
  constructor(
    private readonly store: SharedStore,
    private readonly host: RouteHost,
  ) {}

  /** Back from a Redis outage: every live route we hold, written again (a newer record of another manager wins). */
  async writeAll(): Promise<void> {
    for (const r of [...this.host.routes.values()]) {
      await this.host.claim(r).catch((err: Error) => log.warn('writing a route record again failed', { route: r.key, err }));
    }
  }

  /** A node or transport died: the routes through `via` (all of its nodes), ours and those only in Redis. With Redis away, ours only. */
  async break(match: PathMatch, reason: string, via: string[]): Promise<void> {
    const keys = new Set([...this.host.routes.values()].filter((r) => match(r) && !r.repairing).map((r) => r.key));
    try {
      for (const k of await this.store.routesThrough(via)) keys.add(k);
    } catch {
      /* unavailable: our own routes only */
    }
    await Promise.all([...keys].map((k) => this.repair(k, match, reason)));
  }

  private async repair(key: string, match: PathMatch, reason: string, lookAgain = true): Promise<void> {
    if (this.host.isClosing()) return;
    let locked: boolean | undefined;
    try {
      locked = await this.store.lock(key);
    } catch {
      locked = undefined; // Redis away: repair what we hold, alone
    }
    if (locked === false) {
      // Another manager is on it. Should it die before it is done, its lock expires: look once more then.
      if (lookAgain) setTimeout(() => void this.repair(key, match, reason, false), REPAIR_LOCK_MS + 1000).unref();
      return;
    }
    try {
      let r = this.host.routes.get(key);
      if (locked) {
        const stored = await this.store.getRoute(key).catch(() => undefined);
        if (stored === null) {
          if (r) this.host.forget(r); // closed meanwhile
          return;
        }
        // Already moved off the dead hop (by another manager): only our copy, if any, is refreshed.
        if (stored && !match(stored)) {
          if (r) this.adopt(stored);
          return;
        }
        if (stored) r = this.adopt(stored);
        // Both ends must be linked to us to move the route; if another manager has them, leave it to that one.
        for (const end of r ? [r.from, r.to] : []) {
          if (!this.host.isLinked(end) && (await this.store.nodeOnline(end).catch(() => false))) return;
        }
      }
      if (!r || r.repairing || !match(r)) return;
      r.repairing = true;
      await this.host.repair(r, reason);
    } finally {
      if (locked) await this.store.unlock(key);
    }
  }

  /** The stored record of a route, taken into our table (another manager set it up or repaired it last). */
  private adopt(s: StoredRoute): RouteRecord {
    const r = this.host.routes.get(s.key);
    const next = { key: s.key, from: s.from, to: s.to, port: s.port, fwd: s.fwd, rev: s.rev, fwdIds: s.fwdIds, revIds: s.revIds, minHops: s.minHops, maxHops: s.maxHops, repairs: s.repairs, createdAt: s.createdAt };
    if (r) return Object.assign(r, next);
    const adopted: RouteRecord = { ...next, mine: false };
    this.host.routes.set(s.key, adopted);
    if (s.by !== this.host.pkHex) log.info('route taken over from another node manager', { route: s.key, by: shortPk(s.by) });
    return adopted;
  }

  /** An end reported a route closed that we do not hold: delete its shared record (only an end may). */
  async closed(key: string, pk: string): Promise<void> {
    try {
      const s = await this.store.getRoute(key);
      if (s && (s.from === pk || s.to === pk)) await this.store.removeRoute(key);
      else if (s) log.info('"closed" from a node that is not an end of the route: ignored', { route: key, node: shortPk(pk) });
    } catch {
      /* unavailable: its record goes when an end or a repair finds it gone */
    }
  }
}
