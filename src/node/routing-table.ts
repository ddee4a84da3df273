// Routing table: route_id -> rule. A packet's route id names the rule on the node that receives it.
//   intermediary: forward to the transport towards `nextPk`, rewriting the id to `nextRouteId`;
//   consume:      deliver to a local route end (an app stream);
//   forward:      the outbound side of a local route end (its id is local, used for metering).
// Every rule carries an idle expiry refreshed by traffic and keepalives; reserved ids expire quickly
// if the manager never installs them.
// Ids are random 32-bit numbers: consecutive ids would let anyone who learned one guess the others.
import { randomBytes } from 'node:crypto';

export type RuleKind = 'intermediary' | 'consume' | 'forward' | 'reserved';

export interface Rule {
  id: number;
  kind: RuleKind;
  /** The route this rule belongs to, as named by the node manager. */
  routeKey: string;
  nextPk?: string;
  nextRouteId?: number;
  /**
   * The neighbour whose packets this rule accepts (the previous hop, named by the manager at install). Packets
   * with this id from any other transport are dropped; a `forward` rule (ours, outbound) accepts none.
   */
  fromPk?: string;
  idleMs: number;
  lastActivity: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

export interface TableOptions {
  /** Idle time after which a rule expires (default 30 s). */
  idleMs?: number;
  /** Time a reserved but not installed id is kept (default 10 s). */
  reserveMs?: number;
}

export class RoutingTable {
  private readonly rules = new Map<number, Rule>();
  /** Random bytes drawn in batches (one call per 256 ids, not one per id). */
  private random = Buffer.alloc(0);
  private randomOff = 0;
  readonly idleMs: number;
  readonly reserveMs: number;
  /** Packets whose route id had no rule. */
  unknownRoute = 0;

  constructor(o: TableOptions = {}) {
    this.idleMs = o.idleMs ?? 30_000;
    this.reserveMs = o.reserveMs ?? 10_000;
  }

  /** Reserves `n` fresh route ids (never 0, never one in use); `holdMs` overrides how long they are kept. */
  reserve(n: number, routeKey = '', now = Date.now(), holdMs = this.reserveMs): number[] {
    const ids: number[] = [];
    while (ids.length < n) {
      const id = this.randomId();
      if (id === 0 || this.rules.has(id)) continue;
      this.rules.set(id, this.blank(id, 'reserved', routeKey, holdMs, now));
      ids.push(id);
    }
    return ids;
  }

  /** Installs a rule on a reserved id (or a fresh one when `id` is omitted). */
  install(
    r: { id?: number; kind: Exclude<RuleKind, 'reserved'>; routeKey: string; nextPk?: string; nextRouteId?: number; fromPk?: string },
    now = Date.now(),
  ): Rule {
    const id = r.id ?? this.reserve(1, r.routeKey, now)[0];
    const existing = this.rules.get(id);
    if (r.id !== undefined && (!existing || existing.kind !== 'reserved')) {
      throw new Error(`route id ${id} was not reserved`);
    }
    if ((r.kind === 'intermediary' || r.kind === 'forward') && (!r.nextPk || r.nextRouteId === undefined)) {
      throw new Error(`a ${r.kind} rule needs nextPk and nextRouteId`);
    }
    const rule = this.blank(id, r.kind, r.routeKey, this.idleMs, now);
    rule.nextPk = r.nextPk;
    rule.nextRouteId = r.nextRouteId;
    if (r.kind !== 'forward') rule.fromPk = r.fromPk;
    this.rules.set(id, rule);
    return rule;
  }

  get(id: number): Rule | undefined {
    return this.rules.get(id);
  }

  /** Looks up the rule for an incoming packet, counting misses. */
  lookup(id: number): Rule | undefined {
    const r = this.rules.get(id);
    if (!r || r.kind === 'reserved') {
      this.unknownRoute++;
      return undefined;
    }
    return r;
  }

  touch(rule: Rule, now = Date.now()): void {
    rule.lastActivity = now;
  }

  delete(id: number): Rule | undefined {
    const r = this.rules.get(id);
    if (r) this.rules.delete(id);
    return r;
  }

  /** Removes and returns the rules idle for longer than their expiry. */
  expire(now = Date.now()): Rule[] {
    const gone: Rule[] = [];
    for (const r of this.rules.values()) {
      if (now - r.lastActivity > r.idleMs) {
        this.rules.delete(r.id);
        gone.push(r);
      }
    }
    return gone;
  }

  byRouteKey(routeKey: string): Rule[] {
    return [...this.rules.values()].filter((r) => r.routeKey === routeKey);
  }

  list(): Rule[] {
    return [...this.rules.values()];
  }

  get size(): number {
    return this.rules.size;
  }

  private randomId(): number {
    if (this.randomOff >= this.random.length) {
      this.random = randomBytes(1024);
      this.randomOff = 0;
    }
    const id = this.random.readUInt32BE(this.randomOff);
    this.randomOff += 4;
    return id;
  }

  private blank(id: number, kind: RuleKind, routeKey: string, idleMs: number, now: number): Rule {
    return { id, kind, routeKey, idleMs, lastActivity: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
  }
}
