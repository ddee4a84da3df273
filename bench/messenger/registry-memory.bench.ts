// Messenger memory with many registered clients: a real messenger process, 10,000 keys (each its own secure
// connection with an announced entry) from a few child processes. Baseline: the same messenger's memory with
// no clients, measured in the same run. Goal: < 300 MB for 10,000 clients, judged on the memory measured with all
// of them registered (never an extrapolation). BENCH_CLIENTS overrides the count; registration stops after
// BENCH_SECONDS (default 480: handshakes are CPU-bound on a small machine), and a run that registered fewer than
// the count has not measured the goal: it says so and exits 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { cannotMeasure, loadLine } from '../common/report.js';
import { firstLine, rssMb } from '../common/process.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const CHILD = fileURLToPath(new URL('./many-clients.js', import.meta.url));
const TOTAL = Number(process.env.BENCH_CLIENTS ?? 10_000);
const PROCS = 4;
const deadline = Date.now() + Number(process.env.BENCH_SECONDS ?? 480) * 1000;


const dir = mkdtempSync(join(tmpdir(), 'messenger-bench-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

const m = spawn(process.execPath, ['--expose-gc', CLI, 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, SIGNAL_CLIENT: 'false' },
});
children.push(m);
const addrText = (await firstLine(m, /^messenger listening on (\S+)$/))[1];
const base = rssMb(m.pid!);
console.log(loadLine());
console.log(`messenger idle: ${base.toFixed(1)} MB RSS`);

const t0 = performance.now();
const per = Math.ceil(TOTAL / PROCS);
const procs = Array.from({ length: PROCS }, (_, i) => {
  const p = spawn(process.execPath, [CHILD, addrText, String(Math.min(per, TOTAL - i * per)), '16', String(i), String(deadline)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(p);
  return p;
});
await Promise.all(procs.map((p) => firstLine(p, /^done (\d+)$/)));
const secs = (performance.now() - t0) / 1000;

const probe = new MessengerClient({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(addrText)] });
await probe.start();
const q0 = performance.now();
const r = await probe.query({ service: 'bench', limit: 10 });
const queryMs = performance.now() - q0;
const l0 = performance.now();
for (let i = 0; i < 200; i++) await probe.lookup(r.entries[i % r.entries.length].pk);
const lookupMs = (performance.now() - l0) / 200;
const full = rssMb(m.pid!);
await probe.close();

const perClient = (full - base) / r.total;
console.log(`registered ${r.total} clients in ${secs.toFixed(1)} s (${(r.total / secs).toFixed(0)} handshakes+announces/s)`);
console.log(`per client: ${(perClient * 1024).toFixed(1)} KiB above idle on average`);
console.log(
  `goal row: messenger with ${r.total} clients: ${full.toFixed(1)} MB RSS, ${(full / base).toFixed(2)}x its idle ${base.toFixed(1)} MB ` +
    `(goal < 300 MB for ${TOTAL}: ${r.total < TOTAL ? 'not measured' : full < 300 ? 'met' : 'NOT met'})`,
);
console.log(`query over ${r.total} entries: ${queryMs.toFixed(1)} ms; lookup: ${lookupMs.toFixed(2)} ms round trip`);
for (const p of procs) p.stdin!.end();
if (r.total < TOTAL) cannotMeasure(`only ${r.total} of ${TOTAL} clients registered within BENCH_SECONDS; the goal is for ${TOTAL}`);
console.log(loadLine());
cleanup();
process.exit(0);
