// What every bench prints besides its figures: the machine load they were taken under, and a clear failure
// (non-zero exit, the reason on stderr) when the bench cannot measure what it is for.
import { cpus, loadavg } from 'node:os';

/** "machine load: 1.23 0.98 0.75 (1, 5, 15 min) on 2 cores": print with every set of figures. */
export function loadLine(): string {
  return `machine load: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (1, 5, 15 min) on ${cpus().length} cores`;
}

/** Ends the bench with exit code 1, saying why its goal could not be measured. */
export function cannotMeasure(why: string): never {
  console.log(loadLine());
  console.error(`bench failed: ${why}`);
  process.exit(1);
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
