// What `la` pays per running app to show its CPU % and memory: the /proc sampler (process tree from the
// children files, stat and status read) against the sampler it replaced (pidtree, which spawns `ps`, then
// pidusage), both on the same small process tree in this run. Median of N, alternating the two.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { portableSample, ProcUsage, processTree } from '../../src/viscript/proc-usage.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';

const N = Number(process.env.BENCH_N ?? 15);
if (process.platform !== 'linux') cannotMeasure('no /proc on this platform');

// An app with a child and a grandchild, as a shell script that starts helpers looks.
const child = spawn('/bin/sh', ['-c', 'sleep 1000 & sh -c "sleep 1000 & wait" & echo up; wait'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
process.on('exit', () => process.kill(-child.pid!, 'SIGKILL'));
for await (const line of createInterface({ input: child.stdout! })) if (line === 'up') break;

const usage = new ProcUsage();
const t = { proc: [] as number[], ps: [] as number[] };
let pids = 0;
for (let i = 0; i < N; i++) {
  let t0 = performance.now();
  const a = usage.sample(processTree(child.pid!));
  t.proc.push(performance.now() - t0);
  t0 = performance.now();
  const b = await portableSample(child.pid!, []);
  t.ps.push(performance.now() - t0);
  if (a.pids.join() !== b.pids.join()) cannotMeasure(`the two samplers saw different trees: ${a.pids} vs ${b.pids}`);
  pids = a.pids.length;
}
const [proc, ps] = [median(t.proc), median(t.ps)];
console.log(loadLine());
console.log(`one app's usage (a tree of ${pids} processes), median of ${N}:`);
console.log(`  pidtree (spawns ps) + pidusage, the old sampler (baseline): ${ps.toFixed(2)} ms`);
console.log(`  /proc sampler:                                            ${proc.toFixed(2)} ms   (${(ps / proc).toFixed(0)}x faster)`);
process.exit(0);
