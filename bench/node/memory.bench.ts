// Node memory: the RSS of three node processes (A -> R -> C, a route with one intermediate node) idle, and the
// largest sampled while they carry a 1 Gbit/s stream for 60 s (NODE_MEMORY_BENCH_SECONDS), "before" (V8's young
// generation as it was: SKYWIRE_NODE_YOUNG_GEN=default) and "after" (the defaults now), alternating rounds
// (NODE_MEMORY_BENCH_ROUNDS, default 1) in the same run. Goal: <= 50 MB idle, <= 80 MB carrying 1 Gbit/s.
// Baseline in the same run: a bare `node -e` process's RSS (the runtime's floor).
// NODE_MEMORY_BENCH_MODES adds levers only whoever starts the process can set (docs/node.md, Performance):
// "semi1" (NODE_OPTIONS=--max-semi-space-size=1), "arena1" (MALLOC_ARENA_MAX=1); default "before,after".
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Cluster } from '../../test/node/harness.js';
import { loadLine } from '../common/report.js';
import { type FlowMemory, flowMemory, memOf } from './flow-memory.js';

const SECONDS = Number(process.env.NODE_MEMORY_BENCH_SECONDS ?? 60);
const ROUNDS = Number(process.env.NODE_MEMORY_BENCH_ROUNDS ?? 1);
const RATE = 1e9;
const ALL_MODES: Record<string, Record<string, string>> = {
  before: { SKYWIRE_NODE_YOUNG_GEN: 'default' },
  after: {},
  semi1: { NODE_OPTIONS: '--max-semi-space-size=1' },
  arena1: { MALLOC_ARENA_MAX: '1' },
};
const MODES = Object.fromEntries(
  (process.env.NODE_MEMORY_BENCH_MODES ?? 'before,after').split(',').map((m) => {
    if (!ALL_MODES[m]) throw new Error(`NODE_MEMORY_BENCH_MODES: unknown mode "${m}" (known: ${Object.keys(ALL_MODES).join(', ')})`);
    return [m, ALL_MODES[m]];
  }),
);

async function bareNode(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  const m = memOf(child.pid!);
  child.kill();
  return m.rss;
}

const mb = (x: number) => `${x.toFixed(0)} MB`;
const names = ['node A (sender)', 'node R (intermediate)', 'node C (receiver)'];

function report(mode: string, r: FlowMemory): void {
  console.log(`${mode}: carried ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, ${r.cpuPerGb.toFixed(1)} CPU-s per GB (3 nodes), ${r.samples} RSS samples`);
  r.idle.forEach((m, i) => {
    const p = r.peak[i];
    console.log(
      `  ${names[i].padEnd(22)} idle ${mb(m.rss)} (private ${mb(m.anon)}, PSS ${mb(m.pss)})   ` +
        `carrying: peak ${mb(p.rss)} (private ${mb(p.anon)}, shared file ${mb(p.file)}, PSS ${mb(p.pss)})`,
    );
  });
}

async function main(): Promise<void> {
  console.log(loadLine());
  const bare = await bareNode();
  const c = new Cluster();
  try {
    await c.startCore();
    console.log(`baseline: a bare node process idles at ${mb(bare)} RSS`);
    console.log(`stream A -> R -> C paced at ${RATE / 1e9} Gbit/s for ${SECONDS} s, ${ROUNDS} round(s) per mode, alternating`);
    const worst: Record<string, { idle: number; peak: number }> = {};
    for (let i = 0; i < ROUNDS; i++) {
      for (const [mode, env] of Object.entries(MODES)) {
        const r = await flowMemory(c, { seconds: SECONDS, bitsPerSecond: RATE, env });
        report(mode, r);
        const w = (worst[mode] ??= { idle: 0, peak: 0 });
        w.idle = Math.max(w.idle, ...r.idle.map((m) => m.rss));
        w.peak = Math.max(w.peak, ...r.peak.map((m) => m.rss));
      }
    }
    if (worst.after && worst.before) {
      const { idle, peak } = worst.after;
      console.log(
        `goal row: node RSS idle ${mb(idle)} (goal <= 50 MB: ${idle <= 50 ? 'met' : 'NOT met'}), carrying 1 Gbit/s ${mb(peak)} ` +
          `(goal <= 80 MB: ${peak <= 80 ? 'met' : 'NOT met'}); before: ${mb(worst.before.idle)} / ${mb(worst.before.peak)}; bare node ${mb(bare)}`,
      );
    }
    console.log(loadLine());
  } finally {
    await c.stop();
  }
}

await main();
