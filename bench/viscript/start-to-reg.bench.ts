// How long from `start` until the app has registered over signal, through Viscript (config lookup, log
// file, process group, output draining), against the same app spawned bare with the same environment and
// against a bare `node -e 0` spawn-to-exit, all measured in this run. Median of N.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignalServer } from '../../src/signal/server.js';
import { parseConfig } from '../../src/viscript/config.js';
import { Engine } from '../../src/viscript/engine.js';
import { loadLine } from '../common/report.js';

const N = Number(process.env.BENCH_N ?? 15);
const APP = fileURLToPath(new URL('../../test/viscript/fixtures/client-app.js', import.meta.url));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function registered(server: SignalServer, id: number): Promise<void> {
  return new Promise((resolve) => {
    const on = (c: { id: number }) => {
      if (c.id !== id) return;
      server.off('register', on);
      resolve();
    };
    server.on('register', on);
  });
}

let nextViscriptId = 2; // ids are handed out in order from 2

async function throughViscript(engine: Engine): Promise<number> {
  const id = nextViscriptId++;
  const t0 = performance.now();
  const reg = registered(engine.signal, id);
  await engine.supervisor.start('app');
  await reg;
  const ms = performance.now() - t0;
  await engine.supervisor.kill(id);
  return ms;
}

async function bareWithSignal(server: SignalServer, port: number, id: number): Promise<number> {
  const token = randomBytes(24).toString('base64url');
  server.expect(id, token);
  const t0 = performance.now();
  const reg = registered(server, id);
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, SIGNAL_CLIENT: 'true', SIGNAL_SERVER_ADDRESS: `127.0.0.1:${port}`, SIGNAL_CLIENT_ID: String(id), SIGNAL_TOKEN: token },
    stdio: 'ignore',
  });
  await reg;
  const ms = performance.now() - t0;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  return ms;
}

async function bareNode(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return performance.now() - t0;
}

const dir = mkdtempSync(join(tmpdir(), 'viscript-bench-'));
try {
  // Rounds interleave the three so that load from elsewhere on the machine hits them alike.
  const config = parseConfig(`apps:\n  app:\n    path: ${JSON.stringify(APP)}\n`, join(dir, 'config.yaml'));
  const engine = await Engine.create({ config, stateDir: join(dir, 'state'), signalAddress: '127.0.0.1:0' });
  const server = new SignalServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  const t = { node: [] as number[], bare: [] as number[], vis: [] as number[] };
  try {
    for (let i = 0; i < N; i++) {
      t.node.push(await bareNode());
      t.bare.push(await bareWithSignal(server, port, 100 + i));
      t.vis.push(await throughViscript(engine));
    }
  } finally {
    await server.close();
    await engine.close(200);
  }
  const [node, bare, vis] = [median(t.node), median(t.bare), median(t.vis)];
  console.log(loadLine());
  console.log(`start -> REG, median of ${N}:`);
  console.log(`  bare node spawn to exit (node -e 0):      ${node.toFixed(1)} ms`);
  console.log(`  bare spawn of the app -> REG:             ${bare.toFixed(1)} ms   (${(bare / node).toFixed(2)}x node -e 0)`);
  console.log(`  Viscript start -> REG:                    ${vis.toFixed(1)} ms   (${(vis / bare).toFixed(2)}x bare spawn, +${(vis - bare).toFixed(1)} ms)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
