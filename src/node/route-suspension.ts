// While a route end's path is down, or moving to a new one (docs/routing.md, Repair): its writes wait here,
// and the end fails if the wait is not over within REPAIR_WAIT_MS.

/** How long a stream whose next hop died waits for the manager to switch it to a new path. */
export const REPAIR_WAIT_MS = 5000;

export class Suspension {
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private on = false;

  get active(): boolean {
    return this.on;
  }

  /** Starts the wait, or restarts its clock; `onTimeout` fails the stream. */
  start(onTimeout: () => void): void {
    this.on = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(onTimeout, REPAIR_WAIT_MS);
    this.timer.unref();
  }

  /** Runs `fn` when the wait is over. */
  defer(fn: () => void): void {
    this.waiters.push(fn);
  }

  /** The path is back: the waiting writes go on, in order. */
  end(): void {
    this.on = false;
    clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }

  /** The stream is gone: nothing waits any more. */
  clear(): void {
    clearTimeout(this.timer);
    this.waiters = [];
  }
}
