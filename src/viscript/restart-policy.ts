// When an app that exited is started again: `never`, `on-failure` (non-zero code or killed by a signal) or
// `always`, after a capped exponential delay that starts over once a run has stayed up for `stableMs`, so a
// crash loop slows down but an app that crashes once a day restarts at once. Like supervisord's
// `startretries`, an app that keeps failing right after its start is given up on (`fatal`): restarting it
// forever would only fill its log.
import { Backoff } from '../util/backoff.js';
import type { RestartPolicy } from './config.js';

export interface RestartTiming {
  initialMs?: number;
  maxMs?: number;
  stableMs?: number;
}

export interface QuickFailureLimit {
  /** Restarts allowed after failures that came within `startTimeMs` of the start, before giving up. */
  startRetries: number;
  startTimeMs: number;
}

export class RestartPlanner {
  private readonly backoff: Backoff;
  private readonly stableMs: number;
  private quickFailures = 0;

  constructor(
    private readonly policy: RestartPolicy,
    timing: RestartTiming = {},
    private readonly limit: QuickFailureLimit = { startRetries: 3, startTimeMs: 1000 },
  ) {
    this.backoff = new Backoff({ initialMs: timing.initialMs ?? 500, maxMs: timing.maxMs ?? 30_000, jitter: 0.1 });
    this.stableMs = timing.stableMs ?? 10_000;
  }

  /**
   * The delay before restarting, undefined when the policy says the app stays down, or 'fatal' when it failed
   * quickly more than `startRetries` times in a row.
   */
  afterExit(exit: { code: number | null; signal: string | null; uptimeMs: number }): number | 'fatal' | undefined {
    const failed = exit.code !== 0 || exit.signal !== null;
    if (this.policy === 'never' || (this.policy === 'on-failure' && !failed)) return undefined;
    if (exit.uptimeMs >= this.stableMs) this.backoff.reset();
    if (failed && exit.uptimeMs < this.limit.startTimeMs) {
      if (++this.quickFailures > this.limit.startRetries) return 'fatal';
    } else this.quickFailures = 0;
    return this.backoff.next();
  }

  /** A user started it again: a fresh budget. */
  reset(): void {
    this.quickFailures = 0;
    this.backoff.reset();
  }

  get attempts(): number {
    return this.backoff.attempts;
  }

  /** Failures in a row that came right after a start. */
  get quickFailuresInARow(): number {
    return this.quickFailures;
  }
}
