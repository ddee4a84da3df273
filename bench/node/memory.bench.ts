// Node memory: the RSS of three node processes (A -> R -> C, a route with one intermediate node) idle, and the
// largest sampled while they carry a 1 Gbit/s stream for 60 s (NODE_MEMORY_BENCH_SECONDS). Goal: <= 50 MB idle,
// <= 80 MB carrying 1 Gbit/s. Baseline in the same run: a bare `node -e` process's RSS (the runtime's floor).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Cluster } from '../../test/node/harness.js';
import { loadLine } from '../common/report.js';
import { flowMemory, memOf } from './flow-memory.js';

const SECONDS = Number(process.env.NODE_MEMORY_BENCH_SECONDS ?? 60);
const RATE = 1e9;

async function bareNode(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  const m = memOf(child.pid!);
  child.kill();
  return m.rss;
}

async function main(): Promise<void> {
  console.log(loadLine());
  const bare = await bareNode();
  const c = new Cluster();
  try {
    await c.startCore();
    const r = await flowMemory(c, { seconds: SECONDS, bitsPerSecond: RATE });
    const names = ['node A (sender)', 'node R (intermediate)', 'node C (receiver)'];
    const mb = (x: number) => `${x.toFixed(0)} MB`;
    console.log(`baseline: a bare node process idles at ${mb(bare)} RSS`);
    console.log(`stream A -> R -> C paced at ${RATE / 1e9} Gbit/s for ${SECONDS} s: carried ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, ${r.samples} RSS samples`);
    r.idle.forEach((m, i) => {
      const p = r.peak[i];
      console.log(
        `${names[i].padEnd(22)} idle ${mb(m.rss)} (private ${mb(m.anon)})   carrying: peak ${mb(p.rss)} (private ${mb(p.anon)}, shared file ${mb(p.file)})`,
      );
    });
    const idle = Math.max(...r.idle.map((m) => m.rss));
    const peak = Math.max(...r.peak.map((m) => m.rss));
    console.log(
      `goal row: node RSS idle ${mb(idle)} (goal <= 50 MB: ${idle <= 50 ? 'met' : 'NOT met'}), carrying ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s ` +
        `${mb(peak)} (goal <= 80 MB: ${peak <= 80 ? 'met' : 'NOT met'}); bare node ${mb(bare)}`,
    );
    console.log(loadLine());
  } finally {
    await c.stop();
  }
}

await main();
