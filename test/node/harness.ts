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

export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'skywire-node-test-'));
  readonly procs: Proc[] = [];
  messenger = '';
  managerPk = '';
  private n = 0;

  /** Starts the CLI with args; resolves with the JSON line it prints on start. */
  async spawn(args: string[], env: Record<string, string> = {}): Promise<Proc> {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, SIGNAL_CLIENT: 'false', ...env },
    });
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
      rl.once('line', (l) => {
        try {
          resolve(JSON.parse(l) as Record<string, string>);
        } catch {
          reject(new Error(`unexpected output: ${l}\n${err}`));
        }
      });
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
  async node(connect: string[] = [], extra: string[] = [], env: Record<string, string> = {}): Promise<Proc & { pk: string; apiFile: string }> {
    const name = `node${this.n++}`;
    const args = ['node', '--key', join(this.dir, `${name}.json`), '--messenger', this.messenger, '--json'];
    if (this.managerPk) args.push('--manager', this.managerPk);
    for (const c of connect) args.push('--connect', c);
    const p = await this.spawn([...args, ...extra], env);
    return Object.assign(p, { pk: p.info.pk, apiFile: p.info.apiFile });
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
