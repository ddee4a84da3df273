// Reconnect policy for the peers a node keeps transports to (--connect, `transports add`, auto-connect): a few
// quick tries with a growing backoff, then one try per long interval, so a key nobody serves (a typo, a node
// that is gone) costs a lookup every few minutes instead of forever every 5 s. The state of each peer without a
// transport is shown by `skywire node status` and `transports ls`.
import { Backoff } from '../util/backoff.js';

export interface RetryPolicy {
  /** Failed tries with the quick backoff (200 ms doubling to 5 s) before the long interval (default 10). */
  fastTries?: number;
  /** The interval after that (default 5 min). */
  slowMs?: number;
}

export interface PeerState {
  pk: string;
  /** connecting: a try is running; retrying: quick tries; backing off: one try per slowMs. */
  state: 'connecting' | 'retrying' | 'backing off';
  /** Failed tries since the last transport to this peer. */
  failures: number;
  lastError: string;
  /** When the next try starts (ms from now), if one is scheduled. */
  nextTryInMs?: number;
}

interface Entry {
  failures: number;
  lastError: string;
  backoff: Backoff;
  timer?: NodeJS.Timeout;
  nextAt?: number;
}

export const DEFAULT_FAST_TRIES = 10;
export const DEFAULT_SLOW_MS = 5 * 60_000;

export class PeerRetries {
  private readonly entries = new Map<string, Entry>();
  readonly fastTries: number;
  readonly slowMs: number;

  constructor(o: RetryPolicy = {}) {
    this.fastTries = o.fastTries ?? DEFAULT_FAST_TRIES;
    this.slowMs = o.slowMs ?? DEFAULT_SLOW_MS;
  }

  private entry(pk: string): Entry {
    let e = this.entries.get(pk);
    if (!e) this.entries.set(pk, (e = { failures: 0, lastError: '', backoff: new Backoff({ initialMs: 200, maxMs: 5000 }) }));
    return e;
  }

  isScheduled(pk: string): boolean {
    return this.entries.get(pk)?.timer !== undefined;
  }

  /** Records a failed try (when `err` is given) and schedules the next; `run` is called when it is due. */
  schedule(pk: string, run: () => void, err?: unknown): void {
    const e = this.entry(pk);
    if (err !== undefined) {
      e.failures++;
      e.lastError = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
    }
    if (e.timer) return;
    const delay = e.failures >= this.fastTries ? this.slowMs : e.backoff.next();
    e.nextAt = Date.now() + delay;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      e.nextAt = undefined;
      run();
    }, delay);
    e.timer.unref();
  }

  /** A transport to `pk` is up: the next loss starts with quick tries again. */
  succeeded(pk: string): void {
    const e = this.entries.get(pk);
    if (!e) return;
    clearTimeout(e.timer);
    this.entries.delete(pk);
  }

  /** The peer is no longer wanted. */
  forget(pk: string): void {
    this.succeeded(pk);
  }

  state(pk: string, connecting: boolean): PeerState {
    const e = this.entries.get(pk);
    const failures = e?.failures ?? 0;
    return {
      pk,
      state: connecting ? 'connecting' : failures >= this.fastTries ? 'backing off' : 'retrying',
      failures,
      lastError: e?.lastError ?? '',
      ...(e?.nextAt !== undefined ? { nextTryInMs: Math.max(0, e.nextAt - Date.now()) } : {}),
    };
  }

  close(): void {
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
  }
}
