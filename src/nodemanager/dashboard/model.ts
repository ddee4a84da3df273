// What the network dashboard shows, and the bookkeeping between two looks at the network: traffic rates
// (bytes per second from successive counters) and the history of routes (set up, broken, repaired).

export interface TransportView {
  peer: string;
  latencyMs?: number;
  bytesIn?: number;
  bytesOut?: number;
  kind?: string;
  /** Filled by the dashboard: bytes per second since the previous snapshot. */
  rateIn?: number;
  rateOut?: number;
  /** What the next hop signed for of bytesOut (metering nodes only). */
  signedBytes?: number;
}

export interface RuleView {
  id: number | string;
  kind: string;
  route?: string;
  nextPk?: string;
  bytesIn?: number;
  bytesOut?: number;
  rateIn?: number;
  rateOut?: number;
  /** What the next hop signed for of bytesOut (metering nodes only). */
  signedBytes?: number;
}

export interface NodeView {
  pk: string;
  /** The name the node announced (`skywire node --name`), checked by isNodeName; a label, not an identity. */
  name?: string;
  online: boolean;
  transports: TransportView[];
  rules?: RuleView[];
}

export interface RouteView {
  key: string;
  from: string;
  to: string;
  port: number;
  fwd: string[];
  rev: string[];
  createdAt: number;
}

export interface ServiceView {
  pk: string;
  name: string;
  port: number;
  attrs?: Record<string, string>;
}

export interface NetworkSnapshot {
  manager?: { pk: string; listen?: string | null; routesSetUp?: number; routesFailed?: number; routesBroken?: number };
  nodes: NodeView[];
  routes: RouteView[];
  services: ServiceView[];
  /** Why `services` may be incomplete (the messenger did not answer). */
  servicesError?: string;
}

export interface HistoryEvent {
  t: number;
  kind: 'setup' | 'broken' | 'repaired' | 'closed' | 'node-up' | 'node-down';
  text: string;
  route?: string;
  path?: string[];
}

const short = (pk: string) => pk.slice(0, 8);
const HISTORY_MAX = 200;

export interface TrackerOptions {
  /** A node gone this long is dropped from the view (default 10 min). */
  forgetAfterMs?: number;
  /** At most this many gone nodes are shown; past it the longest gone are dropped first (default 500). */
  maxGone?: number;
}

export const DEFAULT_FORGET_AFTER_MS = 10 * 60_000;
export const DEFAULT_MAX_GONE = 500;

/** Keeps the previous snapshot to turn counters into rates and route changes into history. */
export class NetworkTracker {
  private prev?: { at: number; snap: NetworkSnapshot };
  /** Node pk -> null while online, else when it went (in the order they went: oldest gone first). */
  private readonly known = new Map<string, number | null>();
  /** The last name each known node announced, so a gone node keeps its name while it is shown. */
  private readonly names = new Map<string, string>();
  private goneCount = 0;
  /** Routes broken and not yet set up again, by "from>to:port" (oldest first). */
  private readonly brokenEnds = new Map<string, number>();
  readonly history: HistoryEvent[] = [];
  private readonly forgetAfterMs: number;
  private readonly maxGone: number;

  constructor(o: TrackerOptions = {}) {
    this.forgetAfterMs = o.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
    this.maxGone = o.maxGone ?? DEFAULT_MAX_GONE;
  }

  /** A node in the history: its name (if it announced one) and key prefix. */
  private label(pk: string): string {
    const name = this.names.get(pk);
    return name !== undefined ? `${name} (${short(pk)})` : short(pk);
  }

  private add(e: HistoryEvent): void {
    this.history.push(e);
    if (this.history.length > HISTORY_MAX) this.history.shift();
  }

  /** Returns the snapshot with rates filled in and nodes seen before but gone now marked offline. */
  update(snap: NetworkSnapshot, now = Date.now()): NetworkSnapshot {
    const prev = this.prev;
    const dt = prev ? (now - prev.at) / 1000 : 0;
    const rate = (cur?: number, old?: number) => (dt > 0 && cur !== undefined && old !== undefined && cur >= old ? (cur - old) / dt : undefined);

    // Nodes: the manager forgets nodes that went down; the dashboard keeps them, greyed, for a while (any key
    // can connect and leave, so gone nodes are forgotten after forgetAfterMs and capped at maxGone).
    const nodes = snap.nodes.map((n) => ({ ...n }));
    const present = new Set(nodes.map((n) => n.pk));
    for (const n of nodes) {
      const was = this.known.get(n.pk);
      if (n.name !== undefined) this.names.set(n.pk, n.name);
      if (typeof was === 'number' || (was === undefined && prev)) {
        this.add({ t: now, kind: 'node-up', text: `node ${this.label(n.pk)} is online` });
      }
      if (typeof was === 'number') this.goneCount--;
      this.known.set(n.pk, null);
    }
    for (const [pk, goneAt] of this.known) {
      if (present.has(pk) || goneAt !== null) continue;
      this.add({ t: now, kind: 'node-down', text: `node ${this.label(pk)} went offline` });
      this.known.delete(pk); // re-inserted at the end: the map stays in the order nodes went
      this.known.set(pk, now);
      this.goneCount++;
    }
    for (const [pk, goneAt] of this.known) {
      if (this.goneCount <= this.maxGone && (goneAt === null || now - goneAt < this.forgetAfterMs)) {
        if (goneAt !== null) break; // the rest went later
        continue;
      }
      if (goneAt === null) continue;
      this.known.delete(pk);
      this.names.delete(pk);
      this.goneCount--;
    }
    for (const [pk, goneAt] of this.known) {
      const name = this.names.get(pk);
      if (goneAt !== null) nodes.push({ pk, ...(name !== undefined ? { name } : {}), online: false, transports: [] });
    }
    for (const [k, at] of this.brokenEnds) {
      if (this.brokenEnds.size <= this.maxGone && now - at < this.forgetAfterMs) break;
      this.brokenEnds.delete(k);
    }

    if (prev) {
      const old = new Map(prev.snap.nodes.map((n) => [n.pk, n]));
      for (const n of nodes) {
        const o = old.get(n.pk);
        if (!o) continue;
        const ot = new Map(o.transports.map((t) => [t.peer, t]));
        n.transports = n.transports.map((t) => ({ ...t, rateIn: rate(t.bytesIn, ot.get(t.peer)?.bytesIn), rateOut: rate(t.bytesOut, ot.get(t.peer)?.bytesOut) }));
        const orules = new Map((o.rules ?? []).map((r) => [String(r.id), r]));
        if (n.rules) n.rules = n.rules.map((r) => ({ ...r, rateIn: rate(r.bytesIn, orules.get(String(r.id))?.bytesIn), rateOut: rate(r.bytesOut, orules.get(String(r.id))?.bytesOut) }));
      }
    }

    // Routes: new ones are set up (or repaired, when the same ends lost a route before); vanished ones
    // were broken (the manager counted a break) or closed by their ends.
    const ends = (r: RouteView) => `${r.from}>${r.to}:${r.port}`;
    const before = new Map((prev?.snap.routes ?? []).map((r) => [r.key, r]));
    const after = new Map(snap.routes.map((r) => [r.key, r]));
    const brokeNow = (snap.manager?.routesBroken ?? 0) - (prev?.snap.manager?.routesBroken ?? 0);
    let brokenLeft = Math.max(0, brokeNow);
    for (const [key, r] of before) {
      if (after.has(key)) continue;
      if (brokenLeft > 0) {
        brokenLeft--;
        this.brokenEnds.set(ends(r), now);
        this.add({ t: now, kind: 'broken', route: key, path: r.fwd, text: `route ${this.label(r.from)} → ${this.label(r.to)}:${r.port} broken (path ${r.fwd.map((pk) => this.label(pk)).join(' → ')})` });
      } else {
        this.add({ t: now, kind: 'closed', route: key, text: `route ${this.label(r.from)} → ${this.label(r.to)}:${r.port} closed` });
      }
    }
    for (const [key, r] of after) {
      if (before.has(key)) continue;
      const path = r.fwd.map((pk) => this.label(pk)).join(' → ');
      if (this.brokenEnds.has(ends(r))) {
        this.brokenEnds.delete(ends(r));
        this.add({ t: now, kind: 'repaired', route: key, path: r.fwd, text: `route ${this.label(r.from)} → ${this.label(r.to)}:${r.port} repaired via ${path}` });
      } else {
        this.add({ t: now, kind: 'setup', route: key, path: r.fwd, text: `route ${this.label(r.from)} → ${this.label(r.to)}:${r.port} set up via ${path}` });
      }
    }

    const out = { ...snap, nodes };
    this.prev = { at: now, snap: out };
    return out;
  }
}
