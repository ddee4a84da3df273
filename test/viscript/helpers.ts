// Shared by the Viscript tests: temp configs, the fixture app, and a driver for the real `viscript` CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const FIXTURE_APP = fileURLToPath(new URL('./fixtures/client-app.js', import.meta.url));
export const VISCRIPT_CLI = fileURLToPath(new URL('../../src/cli/viscript.js', import.meta.url));

/** The repository root (the folder whose package.json is this package), whatever the build's outDir. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'skywire-viscript') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'viscript-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** True while `pid` is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Resolves true once `pid` is gone (or a zombie), false if it is still alive after `timeoutMs`. A process we
 * are not the parent of gives no event when it dies, and a SIGKILLed one takes a moment to finish exiting.
 */
export async function goneWithin(pid: number, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export type Msg = { type: string; [k: string]: unknown };

/** A running `viscript --headless --json`, driven through its stdin. */
export class ViscriptProcess {
  readonly messages: Msg[] = [];
  readonly stderr: string[] = [];
  private waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void; from: number }> = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        m = { type: 'text', text: line };
      }
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
    createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first message (from index `from` on) that matches. */
  waitFor(pred: (m: Msg) => boolean, from = 0): Promise<Msg> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve, from }));
  }

  /** Sends a command line and resolves with its result. */
  async run(line: string): Promise<Msg> {
    const from = this.messages.length;
    const next = this.waitFor((m) => m.type === 'result', from);
    this.child.stdin!.write(line + '\n');
    return next;
  }

  /** Waits until app `id` has printed a line matching `pred` (seen in its buffer or live, via `logs -f`). */
  async waitForAppLine(id: number, pred: (text: string) => boolean): Promise<string> {
    const from = this.messages.length;
    const follow = await this.run(`logs ${id} -n 2000 -f`);
    const lines = ((follow.data as { lines?: Array<{ text: string }> } | undefined)?.lines ?? []).map((l) => l.text);
    const hit = lines.find(pred) ?? String((await this.waitFor((m) => m.type === 'output' && m.id === id && pred(String(m.text)), from)).text);
    await this.run('\x1a');
    return hit;
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export function startViscript(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ViscriptProcess {
  const child = spawn(process.execPath, [VISCRIPT_CLI, '--headless', '--json', '--signal-address', '127.0.0.1:0', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own group, so a failed test can kill Viscript and everything it started
  });
  return new ViscriptProcess(child);
}

/** Runs `viscript <args>` to completion (one-shot mode). */
export function runViscript(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VISCRIPT_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
