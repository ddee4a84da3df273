// Receive-window sizing of a relayed stream, as TCP autotuning does (docs/messenger.md, "Window sizing"): a stream
// starts with the window clients always had and doubles it while its sender waits for credit (the sender says so:
// WINDOW with increment 0), the application keeps up, and the rate measured over each of the last two windows' worth
// of data rose by a quarter since the last growth (two rounds, so one lucky round on a busy machine does not count). Windows never grow past the per-stream cap, and the growth of all streams on one
// messenger connection draws on one budget: what a peer can make this client hold stays bounded.

/** What the messenger allows (its HELLO `limits`; older messengers allow maxWindow on every stream, no more). */
export interface WindowCaps {
  max: number;
  base: number;
  extra: number;
}

/** Growth goes on only while each doubling raises the measured rate by this factor. */
const RISE = 1.25;

/** The window budget of one messenger connection: growth beyond `base` across its streams. */
export class WindowBudget {
  used = 0;

  constructor(
    public caps: WindowCaps,
    /** This client's own caps (options): per stream, and in all beyond the base. */
    private readonly own: { max: number; extra: number },
  ) {}

  get max(): number {
    return Math.min(this.caps.max, this.own.max);
  }

  get free(): number {
    return Math.max(0, Math.min(this.caps.extra, this.own.extra) - this.used);
  }
}

export class WindowTuner {
  /** The receive window: what the far end may send beyond what the application has taken. */
  window: number;
  /** Budget taken beyond the base window (given back by release). */
  private reserved = 0;
  private consumed = 0;
  private roundStart = 0;
  private roundT = 0;
  private lastRate = 0;
  private prevRate = 0;
  private rateAtGrowth = 0;
  private roundsSinceGrowth = 0;

  /** `budget` undefined: a fixed window (the behaviour before window sizing). */
  constructor(
    initial: number,
    private readonly budget?: WindowBudget,
  ) {
    this.window = budget ? Math.min(initial, budget.max) : initial;
  }

  get tuned(): boolean {
    return this.budget !== undefined;
  }

  /** The application took `n` bytes: a round ends after each window's worth, and gives its rate. */
  took(n: number): void {
    if (!this.budget) return;
    if (this.roundT === 0) this.roundT = performance.now();
    this.consumed += n;
    if (this.consumed - this.roundStart < this.window) return;
    const now = performance.now();
    this.prevRate = this.lastRate;
    this.lastRate = (this.consumed - this.roundStart) / Math.max(now - this.roundT, 0.001);
    this.roundsSinceGrowth++;
    this.roundStart = this.consumed;
    this.roundT = now;
  }

  /**
   * The sender waits for credit. With `queued` bytes not yet taken by the application (it is the bottleneck if
   * they pile up), returns the bytes the window grows by (0: it stays).
   */
  senderBlocked(queued: number): number {
    const b = this.budget;
    if (!b || queued > this.window / 4) return 0;
    // Two whole rounds at this window measured, both faster than before the last growth.
    const rate = Math.min(this.prevRate, this.lastRate);
    if (this.roundsSinceGrowth < 2 || rate <= this.rateAtGrowth * RISE) return 0;
    const base = b.caps.base;
    const target = Math.min(this.window * 2, b.max, Math.max(this.window, base) + b.free);
    if (target <= this.window) return 0;
    const extra = Math.max(0, target - base) - this.reserved;
    b.used += extra;
    this.reserved += extra;
    const inc = target - this.window;
    this.window = target;
    this.rateAtGrowth = rate;
    this.roundsSinceGrowth = 0;
    this.roundStart = this.consumed;
    this.roundT = performance.now();
    return inc;
  }

  /** The stream is gone: its growth goes back to the budget. */
  release(): void {
    if (this.budget) this.budget.used -= this.reserved;
    this.reserved = 0;
  }
}

/** The window caps a messenger states in its HELLO reply (checked; missing or malformed: what older ones allow). */
export function windowCapsOf(reply: Buffer, legacy: number): WindowCaps {
  let v: unknown;
  try {
    v = JSON.parse(reply.toString('utf8'));
  } catch {
    v = null;
  }
  const l = v !== null && typeof v === 'object' ? (v as { limits?: unknown }).limits : undefined;
  const o = (l !== null && typeof l === 'object' ? l : {}) as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x > 0 && x <= 0xffffffff ? x : undefined);
  const max = num(o.maxWindow) ?? legacy;
  const base = Math.min(num(o.baseWindow) ?? max, max);
  const extra = base < max ? (num(o.connWindow) ?? 0) : 0;
  return { max, base, extra };
}
