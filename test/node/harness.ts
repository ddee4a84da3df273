// Test harness: a real messenger, node manager and nodes, each its own process running the compiled CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  info: Record<string, string>;
  stderr: () => string;
  kill(sig?: NodeJS.Signals): Promise<void>;
}

// If the test runner kills this process (a timeout), take the detached children along.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => process.exit(1));
}

export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'skywire-node-test-'));
  readonly procs: Proc[] = [];
  messenger = '';
  managerPk = '';
  private n = 0;

  /** Starts the CLI with args; resolves with the JSON line it prints on start (or, with `ready`, the first line matching it). */
  async spawn(args: string[], env: Record<string, string> = {}, execArgv: string[] = [], ready?: RegExp): Promise<Proc> {
    const child = spawn(process.execPath, [...execArgv, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, SIGNAL_CLIENT: 'false', ...env },
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 200_000) err = err.slice(-100_000);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const proc: Proc = {
      child,
      info: {},
      stderr: () => err,
      kill: async (sig = 'SIGTERM') => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        try {
          process.kill(-child.pid!, sig);
        } catch {
          /* already gone */
        }
        await exited;
      },
    };
    this.procs.push(proc);
    const rl = createInterface({ input: child.stdout! });
    proc.info = await new Promise<Record<string, string>>((resolve, reject) => {
      const onLine = (l: string) => {
        if (ready) {
          if (!ready.test(l)) return;
          rl.off('line', onLine);
          resolve({ line: l });
          return;
        }
        rl.off('line', onLine);
        try {
          resolve(JSON.parse(l) as Record<string, string>);
        } catch {
          reject(new Error(`unexpected output: ${l}\n${err}`));
        }
      };
      rl.on('line', onLine);
      child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${err}`)));
    });
    return proc;
  }

  async startCore(): Promise<void> {
    const m = await this.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(this.dir, 'messenger.json'), '--json']);
    this.messenger = m.info.address;
    const mgr = await this.spawn(['node-manager', '--key', join(this.dir, 'manager.json'), '--messenger', this.messenger, '--json']);
    this.managerPk = mgr.info.pk;
  }

  /** Starts a node; `connect` lists public keys of nodes to keep transports to. */
  async node(
    connect: string[] = [],
    extra: string[] = [],
    env: Record<string, string> = {},
    execArgv: string[] = [],
  ): Promise<Proc & { pk: string; apiFile: string }> {
    const name = `node${this.n++}`;
    const args = ['node', '--key', join(this.dir, `${name}.json`), '--messenger', this.messenger, '--json'];
    if (this.managerPk) args.push('--manager', this.managerPk);
    for (const c of connect) args.push('--connect', c);
    const p = await this.spawn([...args, ...extra], env, execArgv);
    return Object.assign(p, { pk: p.info.pk, apiFile: p.info.apiFile });
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { AppClient, AppApiError, apiRequest } from '../../src/node/sdk/index.js';
import type { Socket } from 'node:net';

/**
 * Polls `check` until it returns true, for state that has no event to wait on (another process's view, such as
 * a node's status or the manager's graph): bounded, with backoff (20 ms growing to 250 ms between looks).
 */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let delay = 20;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(250, delay * 1.5);
  }
}

export async function status(apiFile: string): Promise<Record<string, unknown> & { transports: Array<{ pk: string }> }> {
  const { readFileSync } = await import('node:fs');
  const { api, token } = JSON.parse(readFileSync(apiFile, 'utf8')) as { api: string; token: string };
  const { sock, reply } = await apiRequest(api, { op: 'status', token });
  sock.destroy();
  return reply.status as Record<string, unknown> & { transports: Array<{ pk: string }> };
}

/** Waits until the node has transports to all of `peers`. */
export async function waitTransports(node: { apiFile: string }, peers: string[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    `transports to ${peers.length} peers`,
    async () => {
      const s = await status(node.apiFile);
      const have = new Set(s.transports.map((t) => t.pk));
      return peers.every((p) => have.has(p));
    },
    timeoutMs,
  );
}

/**
 * Dials, retrying while the manager has not yet heard of the transports the route needs (nodes report them to
 * the manager on their own; no event reaches the app): bounded, with backoff.
 */
export async function dialRetry(app: AppClient, pk: string, port: number, o: { minHops?: number; maxHops?: number } = {}, timeoutMs = 5000): Promise<Socket> {
  const end = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    try {
      return await app.dial(pk, port, o);
    } catch (err) {
      const code = (err as AppApiError).code;
      if (Date.now() > end || !['no_route', 'offline', 'no_manager', 'min_hops'].includes(code)) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(250, delay * 1.5);
    }
  }
}

/** An app that echoes every stream back. */
export async function echoApp(apiFile: string, port = 7): Promise<AppClient> {
  const app = await AppClient.connect({ apiFile, name: 'echo', port });
  app.listen((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  return app;
}

/** Writes `data`, half-closes, and resolves with everything read until the far end closes. */
export function roundTrip(sock: Socket, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
    sock.end(data);
  });
}

/** A cluster and the apps a test opens, all closed when the test ends (pass or fail). */
export function testCluster(t: { after(fn: () => Promise<void>): void }): { c: Cluster; apps: AppClient[] } {
  const c = new Cluster();
  const apps: AppClient[] = [];
  t.after(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await c.stop();
  });
  return { c, apps };
}

/** A diamond a - {b, m} - d, started and with every transport up: two disjoint paths from a to d. */
export async function diamond(c: Cluster) {
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  const m = await c.node([a.pk]);
  const d = await c.node([b.pk, m.pk]);
  await waitTransports(d, [b.pk, m.pk]);
  await waitTransports(a, [b.pk, m.pk]);
  return { a, b, m, d };
}

/** Writes `text` on an echoed stream and resolves with as many characters read back; the stream stays open. */
export function echoOf(sock: Socket, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = '';
    const onData = (x: Buffer) => {
      got += x.toString();
      if (got.length >= text.length) {
        sock.off('data', onData);
        sock.off('error', reject);
        resolve(got);
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(text);
  });
}
