// The manager's view of the mesh: online nodes and the transports both ends of each report, with latency.
// Paths are chosen by fewest hops, ties broken by total latency (a layered BFS with a latency DP,
// O(V+E)); a `minHops` above the shortest path falls back to a bounded search for a longer simple path.

export class NoPathError extends Error {
  constructor(
    readonly code: 'no_route' | 'min_hops',
    message: string,
  ) {
    super(message);
  }
}

export interface PathQuery {
  from: string;
  to: string;
  minHops?: number;
  maxHops?: number;
  /** Nodes the path must not pass through (besides its ends), e.g. ones just reported dead. */
  avoid?: Set<string>;
}

const DFS_BUDGET = 200_000;

interface Scratch {
  dist: Int32Array;
  lat: Float64Array;
  parent: Int32Array;
  blocked: Uint8Array;
  layer: Int32Array;
  next: Int32Array;
}

export class Graph {
  /** Adjacency with latency in ms; symmetric. */
  private readonly adj = new Map<string, Map<string, number>>();
  /** What each node reported, so a new report replaces its old one. */
  private readonly reports = new Map<string, Map<string, number>>();
  /** Compact arrays (CSR) for fast searches; rebuilt after the graph changes. */
  private csr: { ids: string[]; index: Map<string, number>; off: Int32Array; nbr: Int32Array; w: Float64Array; scratch: Scratch } | undefined;

  addNode(pk: string): void {
    this.csr = undefined;
    if (!this.adj.has(pk)) this.adj.set(pk, new Map());
  }

  hasNode(pk: string): boolean {
    return this.adj.has(pk);
  }

  removeNode(pk: string): string[] {
    this.csr = undefined;
    const peers = [...(this.adj.get(pk)?.keys() ?? [])];
    for (const p of peers) this.adj.get(p)?.delete(pk);
    this.adj.delete(pk);
    // What the others reported towards pk stays: if pk comes back with the same transports, its own report
    // alone completes those edges again. Each report is bounded, so this holds no more than they sent.
    this.reports.delete(pk);
    return peers;
  }

  /**
   * Replaces the transports reported by `pk`. An edge exists only while BOTH ends report it (a node cannot
   * invent a link to a node that has no transport to it), with the larger of the two latencies (a node can
   * only make its own links look worse). Returns the peers whose edge disappeared.
   */
  setTransports(pk: string, list: Array<{ pk: string; latencyMs?: number | null }>): string[] {
    this.csr = undefined;
    this.addNode(pk);
    const old = this.reports.get(pk) ?? new Map<string, number>();
    const next = new Map<string, number>();
    for (const t of list) if (t.pk !== pk) next.set(t.pk, Math.max(0, Number(t.latencyMs) || 0));
    this.reports.set(pk, next);
    const lost: string[] = [];
    for (const peer of new Set([...old.keys(), ...next.keys()])) {
      const had = this.hasEdge(pk, peer);
      const mine = next.get(peer);
      const theirs = this.reports.get(peer)?.get(pk);
      if (mine !== undefined && theirs !== undefined && this.adj.has(peer)) {
        const l = Math.max(mine, theirs);
        this.adj.get(pk)!.set(peer, l);
        this.adj.get(peer)!.set(pk, l);
      } else {
        this.adj.get(pk)!.delete(peer);
        this.adj.get(peer)?.delete(pk);
        if (had) lost.push(peer);
      }
    }
    return lost;
  }

  /** Adds an undirected edge directly (for generated graphs and tests). */
  addEdge(a: string, b: string, latencyMs = 0): void {
    this.csr = undefined;
    this.addNode(a);
    this.addNode(b);
    this.adj.get(a)!.set(b, latencyMs);
    this.adj.get(b)!.set(a, latencyMs);
  }

  hasEdge(a: string, b: string): boolean {
    return this.adj.get(a)?.has(b) ?? false;
  }

  latency(a: string, b: string): number | undefined {
    return this.adj.get(a)?.get(b);
  }

  nodes(): string[] {
    return [...this.adj.keys()];
  }

  edges(): Array<{ a: string; b: string; latencyMs: number }> {
    const out: Array<{ a: string; b: string; latencyMs: number }> = [];
    for (const [a, m] of this.adj) for (const [b, l] of m) if (a < b) out.push({ a, b, latencyMs: l });
    return out;
  }

  get nodeCount(): number {
    return this.adj.size;
  }

  /** The path as a list of node keys from `from` to `to` (hops = length - 1). Throws NoPathError. */
  findPath(q: PathQuery): string[] {
    const minHops = Math.max(1, q.minHops ?? 1);
    const maxHops = q.maxHops ?? Infinity;
    if (minHops > maxHops) throw new NoPathError('min_hops', `min hops ${minHops} is above max hops ${maxHops}`);
    if (!this.adj.has(q.from)) throw new NoPathError('no_route', `node ${q.from.slice(0, 8)} is not in the graph`);
    if (!this.adj.has(q.to)) throw new NoPathError('no_route', `node ${q.to.slice(0, 8)} is not in the graph`);
    if (q.from === q.to) throw new NoPathError('no_route', 'source and destination are the same node');
    const avoid = q.avoid;

    // Layered BFS from `from`; within the shortest-path DAG keep the lowest total latency.
    const g = this.compile();
    const src = g.index.get(q.from)!;
    const dst = g.index.get(q.to)!;
    // Scratch arrays of the compiled graph, reused by every search (a new set per search was most of the
    // garbage a busy manager made on a 10,000-node graph): searches are synchronous, so never share them.
    const { dist, lat, parent } = g.scratch;
    dist.fill(-1);
    parent.fill(-1);
    lat[src] = 0;
    const blocked = avoid ? g.scratch.blocked.fill(0) : undefined;
    if (avoid && blocked) for (const a of avoid) if (g.index.has(a) && a !== q.to) blocked[g.index.get(a)!] = 1;
    let { layer, next } = g.scratch;
    let layerLen = 1;
    layer[0] = src;
    dist[src] = 0;
    let depth = 0;
    while (layerLen && dist[dst] < 0 && depth < maxHops) {
      let nextLen = 0;
      for (let li = 0; li < layerLen; li++) {
        const u = layer[li];
        const lu = lat[u];
        for (let e = g.off[u]; e < g.off[u + 1]; e++) {
          const v = g.nbr[e];
          if (blocked && blocked[v]) continue;
          const d = dist[v];
          const lv = lu + g.w[e];
          if (d < 0) {
            dist[v] = depth + 1;
            lat[v] = lv;
            parent[v] = u;
            next[nextLen++] = v;
          } else if (d === depth + 1 && lv < lat[v]) {
            lat[v] = lv;
            parent[v] = u;
          }
        }
      }
      [layer, next] = [next, layer];
      layerLen = nextLen;
      depth++;
    }
    const shortest = dist[dst];
    if (shortest < 0) {
      throw new NoPathError(
        'no_route',
        maxHops === Infinity
          ? `no path from ${q.from.slice(0, 8)} to ${q.to.slice(0, 8)}`
          : `no path from ${q.from.slice(0, 8)} to ${q.to.slice(0, 8)} within ${maxHops} hop${maxHops === 1 ? '' : 's'}`,
      );
    }
    if (shortest >= minHops) {
      const path = [q.to];
      for (let v = parent[dst]; v >= 0; v = parent[v]) path.push(g.ids[v]);
      return path.reverse();
    }
    const longer = this.longerPath(q.from, q.to, minHops, Math.min(maxHops, this.adj.size - 1), avoid);
    if (!longer) {
      throw new NoPathError(
        'min_hops',
        `no path from ${q.from.slice(0, 8)} to ${q.to.slice(0, 8)} with at least ${minHops} hops`,
      );
    }
    return longer;
  }

  private compile(): NonNullable<Graph['csr']> {
    if (this.csr) return this.csr;
    const ids = [...this.adj.keys()];
    const index = new Map(ids.map((id, i) => [id, i]));
    const off = new Int32Array(ids.length + 1);
    let m = 0;
    ids.forEach((id, i) => {
      off[i] = m;
      m += this.adj.get(id)!.size;
    });
    off[ids.length] = m;
    const nbr = new Int32Array(m);
    const w = new Float64Array(m);
    let k = 0;
    for (const id of ids) {
      for (const [v, l] of this.adj.get(id)!) {
        nbr[k] = index.get(v)!;
        w[k++] = l;
      }
    }
    const n = ids.length;
    const scratch = { dist: new Int32Array(n), lat: new Float64Array(n), parent: new Int32Array(n), blocked: new Uint8Array(n), layer: new Int32Array(n), next: new Int32Array(n) };
    this.csr = { ids, index, off, nbr, w, scratch };
    return this.csr;
  }

  /** A simple path with between min and max hops (fewest first), by pruned depth-first search. */
  private longerPath(from: string, to: string, minHops: number, maxHops: number, avoid?: Set<string>): string[] | null {
    // Distance to `to`, for pruning branches that cannot arrive in time.
    const toDist = new Map<string, number>([[to, 0]]);
    let layer = [to];
    for (let d = 1; layer.length && d <= maxHops; d++) {
      const next: string[] = [];
      for (const u of layer) {
        for (const v of this.adj.get(u)!.keys()) {
          if (!toDist.has(v) && !(avoid?.has(v) && v !== from)) {
            toDist.set(v, d);
            next.push(v);
          }
        }
      }
      layer = next;
    }
    let budget = DFS_BUDGET;
    for (let hops = minHops; hops <= maxHops; hops++) {
      const path = [from];
      const onPath = new Set([from]);
      const dfs = (u: string): boolean => {
        if (--budget < 0) return false;
        const left = hops - (path.length - 1);
        if (left === 0) return u === to;
        const nbrs = [...this.adj.get(u)!].sort((x, y) => x[1] - y[1]);
        for (const [v] of nbrs) {
          if (onPath.has(v) || (avoid?.has(v) && v !== to)) continue;
          if (v === to && left !== 1) continue;
          const dv = toDist.get(v);
          if (dv === undefined || dv > left - 1) continue;
          path.push(v);
          onPath.add(v);
          if (dfs(v)) return true;
          path.pop();
          onPath.delete(v);
        }
        return false;
      };
      if (dfs(from)) return path;
      if (budget < 0) return null;
    }
    return null;
  }
}
