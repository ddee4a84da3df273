// Failed route setups per node: a node on a path that does not install its rules (no answer, an error) gets a
// strike. Strikes decay (halving every `halfLifeMs`), so an honest node that was briefly down comes back;
// a node whose score reaches `threshold` is benched (left out of new paths as an intermediate) until its score
// has decayed to half the threshold, so a node that keeps failing is tried again at most about once per
// half-life instead of on every route.

export interface PenaltyOptions {
  /** Score at which a node is benched (default 1.5: a second failure within about a half-life of the first). */
  threshold?: number;
  /** Time for a score to halve (default 60 s). */
  halfLifeMs?: number;
  /** Nodes remembered at most (the oldest entries are dropped first; default 10,000). */
  maxEntries?: number;
}

interface Entry {
  score: number;
  at: number;
  benched: boolean;
}

export class Penalties {
  private readonly entries = new Map<string, Entry>();
  /** The benched ones among them (checked on every route setup: kept apart so that costs nothing while none is). */
  private readonly onBench = new Set<string>();
  private readonly threshold: number;
  private readonly halfLifeMs: number;
  private readonly maxEntries: number;

  constructor(o: PenaltyOptions = {}) {
    this.threshold = o.threshold ?? 1.5;
    this.halfLifeMs = o.halfLifeMs ?? 60_000;
    this.maxEntries = o.maxEntries ?? 10_000;
  }

  /** Records a failure of node `pk`; returns true when this benches it. */
  strike(pk: string, now = Date.now()): boolean {
    const e = this.current(pk, now) ?? { score: 0, at: now, benched: false };
    e.score += 1;
    e.at = now;
    const newly = !e.benched && e.score >= this.threshold;
    if (e.score >= this.threshold) {
      e.benched = true;
      this.onBench.add(pk);
    }
    this.entries.delete(pk); // re-insert: the map's order is the order of last strikes
    this.entries.set(pk, e);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value!;
      this.entries.delete(oldest);
      this.onBench.delete(oldest);
    }
    return newly;
  }

  score(pk: string, now = Date.now()): number {
    return this.current(pk, now)?.score ?? 0;
  }

  isBenched(pk: string, now = Date.now()): boolean {
    return this.current(pk, now)?.benched ?? false;
  }

  /** The nodes benched now. */
  benched(now = Date.now()): Set<string> {
    const out = new Set<string>();
    for (const pk of [...this.onBench]) if (this.current(pk, now)?.benched) out.add(pk);
    return out;
  }

  private current(pk: string, now: number): Entry | undefined {
    const e = this.entries.get(pk);
    if (!e) return undefined;
    e.score *= Math.pow(0.5, Math.max(0, now - e.at) / this.halfLifeMs);
    e.at = now;
    if (e.benched && e.score < this.threshold / 2) {
      e.benched = false;
      this.onBench.delete(pk);
    }
    if (e.score < 0.01) {
      this.entries.delete(pk);
      return undefined;
    }
    return e;
  }
}
