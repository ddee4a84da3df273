// Bounds how many route setups a node runs at once. A burst of dials (a browser or a test opening 2,000 SOCKS
// connections at once) otherwise starts every end-to-end handshake together: they share the CPU, and the slow
// ones reach their timeouts (the far end's starts at install) before they finish. Queued, each setup runs
// with the whole budget of its timeouts; the queue itself is bounded and refuses clearly past that.
import { AppApiError } from './sdk/errors.js';

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

export class SetupQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
    /** A setup that waited this long for its turn is refused instead (the app hears "busy"). */
    readonly maxWaitMs: number,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `fn` once fewer than `concurrency` setups are running; refuses when the queue is full or the wait too long. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new AppApiError('busy', `this node already has ${this.waiting.length} route setups waiting; try again later`);
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = {
          start: resolve,
          timer: setTimeout(() => {
            this.waiting.splice(this.waiting.indexOf(w), 1);
            reject(new AppApiError('busy', `this node is busy: the route setup waited ${this.maxWaitMs / 1000} s for its turn`));
          }, this.maxWaitMs),
        };
        this.waiting.push(w);
      });
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), else free it.
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.start();
      } else {
        this.running--;
      }
    }
  }
}
