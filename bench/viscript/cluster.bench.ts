// A cluster hub with BENCH_AGENTS (50) agent Viscripts, each its own process on this machine with one app
// running, all through one real `skywire messenger`: the `la @all` round trip (against a local `la` on one
// agent and `la @m1` through the hub, measured in the same run), the hub's memory (against the same hub with
// no machine online), and the time from an agent's SIGKILL to the hub's "machine offline". Goals (issue 12):
// la @all < 200 ms at 50 machines, hub < 150 MB.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadOrCreateKeyFile } from '../../src/net/keys.js';
import { cannotMeasure, loadLine, median } from '../common/report.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const ROUNDS = Number(process.env.BENCH_N ?? 7);
const VISCRIPT = fileURLToPath(new URL('../../src/cli/viscript.js', import.meta.url));
const SKYWIRE = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));

type Msg = { type: string; [k: string]: unknown };

class Proc {
  readonly lines: Msg[] = [];
  readonly stderr: string[] = [];
  private waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];
  private errWaiters: Array<{ re: RegExp; resolve: () => void }> = [];
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      let m: Msg;
      try {
        m = JSON.parse(l) as Msg;
      } catch {
        m = { type: 'text', text: l };
      }
      this.lines.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    });
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      this.errWaiters = this.errWaiters.filter((w) => (w.re.test(l) ? (w.resolve(), false) : true));
    });
  }
  next(pred: (m: Msg) => boolean): Promise<Msg> {
    const seen = this.lines.find(pred);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
  stderrLine(re: RegExp): Promise<void> {
    return new Promise((resolve) => this.errWaiters.push({ re, resolve }));
  }
  async run(line: string): Promise<{ ms: number; m: Msg }> {
    const from = this.lines.length;
    const t0 = performance.now();
    const p = new Promise<Msg>((resolve) => this.waiters.push({ pred: (m) => m.type === 'result' && this.lines.indexOf(m) >= from, resolve }));
    this.child.stdin!.write(line + '\n');
    const m = await p;
    return { ms: performance.now() - t0, m };
  }
  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      // gone
    }
  }
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function viscript(config: string, env: NodeJS.ProcessEnv = {}): Proc {
  return new Proc(
    spawn(process.execPath, [VISCRIPT, '--headless', '--json', '--signal-address', '127.0.0.1:0', '--config', config], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'viscript-cluster-bench-'));
const procs: Proc[] = [];
const cleanup = () => {
  for (const p of procs) p.kill();
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
try {
  const messengerProc = new Proc(spawn(process.execPath, [SKYWIRE, 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json'), '--json'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, SIGNAL_CLIENT: '' } }));
  procs.push(messengerProc);
  const messenger = String((await messengerProc.next((m) => typeof m.address === 'string')).address);
  const pk = (f: string) => loadOrCreateKeyFile(f).publicKey.toString('hex');
  const hubPk = pk(join(dir, 'hub.key'));
  const names = Array.from({ length: AGENTS }, (_, i) => `m${i + 1}`);
  const app = 'apps:\n  sleeper:\n    path: sleep\n    default_args: ["3600"]\n    autostart: true\n';
  const machines: string[] = [];
  for (const n of names) {
    mkdirSync(join(dir, n));
    const k = join(dir, n, 'key.json');
    machines.push(`    ${n}: "${pk(k)}"`);
    writeFileSync(join(dir, n, 'config.yaml'), `cluster:\n  key: ${k}\n  messengers: ["${messenger}"]\n  hubs: ["${hubPk}"]\n${app}`);
  }
  mkdirSync(join(dir, 'hub'));
  writeFileSync(join(dir, 'hub', 'config.yaml'), `cluster:\n  key: ${join(dir, 'hub.key')}\n  messengers: ["${messenger}"]\n  machines:\n${machines.join('\n')}\n`);

  // The hub first, with no machine online: its baseline memory.
  const hub = viscript(join(dir, 'hub', 'config.yaml'), { LOG_LEVEL: 'info' });
  procs.push(hub);
  await hub.next((m) => m.type === 'ready');
  await new Promise((r) => setTimeout(r, 2000)); // settle: a memory baseline, not synchronisation
  const idleRss = rssMiB(hub.child.pid!);

  const t0 = performance.now();
  const agents: Proc[] = [];
  for (const n of names) {
    const a = viscript(join(dir, n, 'config.yaml'));
    agents.push(a);
    procs.push(a);
  }
  await Promise.all(agents.map((a) => a.next((m) => m.type === 'ready')));
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { m } = await hub.run('lm');
    const online = (m.data as Array<{ state: string }>).filter((x) => x.state === 'online').length;
    if (online === AGENTS) break;
    if (Date.now() > deadline) cannotMeasure(`only ${online} of ${AGENTS} agents came online within 180 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const upMs = performance.now() - t0;

  const t = { local: [] as number[], one: [] as number[], all: [] as number[], parallel: [] as number[] };
  let rows = 0;
  for (let i = 0; i < ROUNDS; i++) {
    t.local.push((await agents[0].run('la')).ms);
    // The same work without the hub: `la` on every agent at once, straight into each one's stdin.
    const p0 = performance.now();
    await Promise.all(agents.map((a) => a.run('la')));
    t.parallel.push(performance.now() - p0);
    t.one.push((await hub.run('la @m1')).ms);
    const all = await hub.run('la @all');
    t.all.push(all.ms);
    rows = (all.m.data as unknown[]).length;
  }
  if (rows !== AGENTS) cannotMeasure(`la @all listed ${rows} apps, expected ${AGENTS}`);
  const busyRss = rssMiB(hub.child.pid!);

  // Time to notice an agent gone: SIGKILL its Viscript, wait for the hub's "machine offline" log line.
  const notice: number[] = [];
  for (const i of [1, 2, 3]) {
    const seen = hub.stderrLine(new RegExp(`"machine offline","machine":"m${i + 1}"`));
    const k0 = performance.now();
    process.kill(agents[i].child.pid!, 'SIGKILL');
    await seen;
    notice.push(performance.now() - k0);
  }

  const [local, one, all, parallel] = [median(t.local), median(t.one), median(t.all), median(t.parallel)];
  console.log(loadLine());
  console.log(`cluster hub with ${AGENTS} agents (each a Viscript process with one app), one messenger; median of ${ROUNDS}:`);
  console.log(`  all ${AGENTS} online after start:           ${(upMs / 1000).toFixed(1)} s`);
  console.log(`  la on one agent (local, baseline):     ${local.toFixed(1)} ms`);
  console.log(`  la @m1 through the hub:                ${one.toFixed(1)} ms   (${(one / local).toFixed(2)}x local)`);
  console.log(`  la on all ${AGENTS} agents at once, no hub:  ${parallel.toFixed(1)} ms   (baseline: the agents' own work on these shared cores)`);
  console.log(`  la @all (${AGENTS} machines):                ${all.toFixed(1)} ms   (${(all / local).toFixed(2)}x one local la, ${(all / parallel).toFixed(2)}x all at once without the hub)   goal < 200 ms: ${all < 200 ? 'met' : 'NOT met'}`);
  console.log(`  hub RSS, none online -> ${AGENTS} online:      ${idleRss.toFixed(0)} MiB -> ${busyRss.toFixed(0)} MiB   goal < 150 MB: ${busyRss * 1.048576 < 150 ? 'met' : 'NOT met'}`);
  console.log(`  agent SIGKILL -> hub says offline:     ${notice.map((x) => x.toFixed(0)).join(' / ')} ms   (goal 5000 ms)`);
} finally {
  cleanup();
}
