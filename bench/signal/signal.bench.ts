// Signal protocol figures against baselines measured in the same run:
// - ping round trip (median, p99) with 1, 100 and 1000 registered clients vs a plain TCP echo round trip
//   between the same two processes;
// - server RSS at 1000 clients (server in its own process) vs the same server idle;
// - spawn-to-REG of a Node client program vs a bare `node -e 0` spawn-to-exit.
// Goals: median ping < 0.5 ms (1 client), 1000 clients < 100 MB, spawn-to-REG < 300 ms.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { SignalServer } from '../../src/signal/server.js';
import { loadLine } from '../common/report.js';

const worker = (name: string) => new URL(`./workers/${name}`, import.meta.url).pathname;
const children: ChildProcess[] = [];
const env = { ...process.env, LOG_LEVEL: 'error' };

function start(name: string, args: string[], nodeArgs: string[] = []): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, [...nodeArgs, worker(name), ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    child,
    next: async () => {
      const r = await lines.next();
      if (r.done) throw new Error(`${name} exited early`);
      return JSON.parse(r.value) as Record<string, unknown>;
    },
  };
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const verdict = (ok: boolean) => (ok ? 'goal met' : 'GOAL MISSED');

async function pingRounds(): Promise<void> {
  const server = start('server.js', [], ['--expose-gc']);
  const { port, idleRss } = (await server.next()) as { port: number; idleRss: number };
  const address = `127.0.0.1:${port}`;
  let registered = 0;
  let echoPort = 0;
  console.log('clients  ping median  ping p99   echo median  echo p99   ratio(median)  all-at-once');
  let last: Record<string, number> = {};
  for (const target of [1, 100, 1000]) {
    // Clients in a few processes, added on top of those already registered.
    const add = target - registered;
    const perWorker = Math.ceil(add / (add > 100 ? 2 : 1));
    const ready: Array<Promise<Record<string, unknown>>> = [];
    for (let first = registered + 2; first < target + 2; first += perWorker) {
      ready.push(start('clients.js', [address, String(first), String(Math.min(perWorker, target + 2 - first))]).next());
    }
    for (const r of await Promise.all(ready)) echoPort ||= r.echoPort as number;
    registered = target;
    server.child.stdin!.write(JSON.stringify({ clients: target, pings: 2000, echoPort }) + '\n');
    const r = (await server.next()) as { ping: { median: number; p99: number }; echo: { median: number; p99: number }; allAtOnceMs: number; rss: number };
    console.log(
      `${String(target).padStart(7)}  ${fmt(r.ping.median).padStart(11)}  ${fmt(r.ping.p99).padStart(9)}  ` +
        `${fmt(r.echo.median).padStart(11)}  ${fmt(r.echo.p99).padStart(9)}  ${(r.ping.median / r.echo.median).toFixed(2).padStart(12)}x  ${fmt(r.allAtOnceMs).padStart(10)}`,
    );
    if (target === 1) console.log(`  median ping with 1 client ${fmt(r.ping.median)} (< 0.5 ms): ${verdict(r.ping.median < 0.5)}`);
    last = { rss: r.rss };
  }
  console.log(
    `server RSS: idle ${mb(idleRss)}, with 1000 clients ${mb(last.rss)} (ratio ${(last.rss / idleRss).toFixed(2)}x, ` +
      `${((last.rss - idleRss) / 1000 / 1024).toFixed(1)} KB per client); < 100 MB: ${verdict(last.rss < 100 * 1048576)}`,
  );
}

async function spawnTimes(runs: number): Promise<void> {
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', r));
    bare.push(performance.now() - t0);
  }
  const server = new SignalServer({ port: 0 });
  const { port } = await server.listen();
  const toReg: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = 100 + i;
    server.expect(id, `token-${i}`);
    const t0 = performance.now();
    const registered = new Promise<void>((resolve) => {
      const on = (info: { id: number }) => {
        if (info.id !== id) return;
        server.off('register', on);
        resolve();
      };
      server.on('register', on);
    });
    const child = spawn(process.execPath, [worker('app.js')], {
      env: { ...env, SIGNAL_CLIENT: 'true', SIGNAL_SERVER_ADDRESS: `127.0.0.1:${port}`, SIGNAL_CLIENT_ID: String(id), SIGNAL_TOKEN: `token-${i}` },
      stdio: 'ignore',
    });
    children.push(child);
    await registered;
    toReg.push(performance.now() - t0);
    const gone = new Promise((r) => child.once('exit', r));
    await server.shutdown(id);
    await gone;
  }
  await server.close();
  const b = median(bare);
  const s = median(toReg);
  console.log(`spawn: bare "node -e 0" to exit ${fmt(b)}, client program spawn to REG ${fmt(s)} (ratio ${(s / b).toFixed(2)}x); < 300 ms: ${verdict(s < 300)}`);
}

try {
  console.log(loadLine());
  await pingRounds();
  await spawnTimes(10);
  console.log(loadLine());
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
