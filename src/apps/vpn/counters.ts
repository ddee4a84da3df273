// Packet and drop counters, so "it does not work" can be told apart from "packets are being refused".

export class Counters {
  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly dropped: Record<string, number> = {};

  drop(reason: string): number {
    const n = (this.dropped[reason] ?? 0) + 1;
    this.dropped[reason] = n;
    return n;
  }

  snapshot(): Record<string, unknown> {
    return { packetsIn: this.packetsIn, packetsOut: this.packetsOut, bytesIn: this.bytesIn, bytesOut: this.bytesOut, dropped: { ...this.dropped } };
  }
}

/** Logs on the 1st, 10th, 100th... occurrence, so a flood of bad packets cannot flood the log. */
export const worthLogging = (n: number): boolean => n === 1 || /^10*$/.test(String(n));
