// The messenger's table of keys: one entry per connected key, kept for a grace period after its connection
// goes so a reconnecting client finds its entry (and others still see it) instead of a gap.
import type { Announce, Entry, Query, Service } from './types.js';
import { QUERY_DEFAULT_LIMIT } from './types.js';

interface Record_ {
  pk: string;
  addresses: string[];
  services: Service[];
  lastSeen: number;
  online: boolean;
  graceTimer?: NodeJS.Timeout;
}

export class Registry {
  private readonly entries = new Map<string, Record_>();

  constructor(
    private readonly graceMs: number,
    private readonly maxEntries: number,
    private readonly onExpire: (pk: string) => void = () => {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(pk: string): boolean {
    return this.entries.has(pk);
  }

  /** False when the table is full and `pk` has no entry yet. */
  canAdd(pk: string): boolean {
    return this.entries.has(pk) || this.entries.size < this.maxEntries;
  }

  online(pk: string): void {
    let r = this.entries.get(pk);
    if (!r) {
      r = { pk, addresses: [], services: [], lastSeen: Date.now(), online: true };
      this.entries.set(pk, r);
    }
    if (r.graceTimer) clearTimeout(r.graceTimer);
    r.graceTimer = undefined;
    r.online = true;
    r.lastSeen = Date.now();
  }

  /** The key's connection went: keep the entry for the grace period, then forget it. */
  offline(pk: string): void {
    const r = this.entries.get(pk);
    if (!r) return;
    r.online = false;
    r.lastSeen = Date.now();
    if (r.graceTimer) clearTimeout(r.graceTimer);
    r.graceTimer = setTimeout(() => {
      if (this.entries.get(pk) === r && !r.online) {
        this.entries.delete(pk);
        this.onExpire(pk);
      }
    }, this.graceMs);
    r.graceTimer.unref();
  }

  /** Forgets a key at once (a connection that turned out to be a peer messenger, not a client). */
  remove(pk: string): void {
    const r = this.entries.get(pk);
    if (r?.graceTimer) clearTimeout(r.graceTimer);
    this.entries.delete(pk);
  }

  touch(pk: string, now: number): void {
    const r = this.entries.get(pk);
    if (r) r.lastSeen = now;
  }

  announce(pk: string, a: Announce): void {
    const r = this.entries.get(pk);
    if (!r) return;
    if (a.addresses) r.addresses = a.addresses;
    if (a.services) r.services = a.services;
  }

  lookup(pk: string): Entry | null {
    const r = this.entries.get(pk);
    return r ? view(r) : null;
  }

  /** Entries offering the service and/or the attribute, ordered by key so that pages are stable. */
  query(q: Query): { entries: Entry[]; total: number } {
    const matches: Record_[] = [];
    for (const r of this.entries.values()) {
      if (matchesQuery(r, q)) matches.push(r);
    }
    matches.sort((a, b) => (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0));
    const offset = q.offset ?? 0;
    const limit = q.limit ?? QUERY_DEFAULT_LIMIT;
    return { entries: matches.slice(offset, offset + limit).map(view), total: matches.length };
  }

  clear(): void {
    for (const r of this.entries.values()) if (r.graceTimer) clearTimeout(r.graceTimer);
    this.entries.clear();
  }
}

/** Whether an entry offers the service and/or attribute asked (no filter: every entry). */
export function matchesQuery(r: { services: Service[] }, q: Query): boolean {
  if (!q.service && !q.attr) return true;
  return r.services.some(
    (s) => (!q.service || s.name === q.service) && (!q.attr || s.attrs?.[q.attr.key] === q.attr.value),
  );
}

function view(r: Record_): Entry {
  return { pk: r.pk, addresses: r.addresses, services: r.services, lastSeen: r.lastSeen };
}
