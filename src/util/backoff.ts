// Capped exponential backoff with jitter, for reconnect loops and restart policies.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay randomised (0..1), so many clients do not retry in lockstep. */
  jitter?: number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** The delay before the next attempt; grows with each call until reset(). */
  next(): number {
    const { initialMs = 100, maxMs = 10_000, factor = 2, jitter = 0.2 } = this.opts;
    const base = Math.min(maxMs, initialMs * Math.pow(factor, this.attempt));
    this.attempt++;
    const spread = base * jitter;
    return Math.max(0, Math.round(base - spread + Math.random() * 2 * spread));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
