// When an app that exited is started again: `never`, `on-failure` (non-zero code or killed by a signal) or
// `always`, after a capped exponential delay that starts over once a run has stayed up for `stableMs`, so a
// crash loop slows down but an app that crashes once a day restarts at once.
import { Backoff } from '../util/backoff.js';
import type { RestartPolicy } from './config.js';

export interface RestartTiming {
  initialMs?: number;
  maxMs?: number;
  stableMs?: number;
}

export class RestartPlanner {
  private readonly backoff: Backoff;
  private readonly stableMs: number;

  constructor(
    private readonly policy: RestartPolicy,
    timing: RestartTiming = {},
  ) {
    this.backoff = new Backoff({ initialMs: timing.initialMs ?? 500, maxMs: timing.maxMs ?? 30_000, jitter: 0.1 });
    this.stableMs = timing.stableMs ?? 10_000;
  }

  /** The delay before restarting, or undefined when the policy says the app stays down. */
  afterExit(exit: { code: number | null; signal: string | null; uptimeMs: number }): number | undefined {
    const failed = exit.code !== 0 || exit.signal !== null;
    if (this.policy === 'never' || (this.policy === 'on-failure' && !failed)) return undefined;
    if (exit.uptimeMs >= this.stableMs) this.backoff.reset();
    return this.backoff.next();
  }

  get attempts(): number {
    return this.backoff.attempts;
  }
}
