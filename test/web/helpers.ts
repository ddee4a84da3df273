// Shared by the GUI tests: child processes in their own process group (killed with everything they
// started), waiting for a line of output, and the Chromium that the browser tests drive.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const CHROMIUM = '/usr/bin/chromium';
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
export const artifacts = join(repoRoot, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

/** Why a browser test cannot run here, or undefined when it can. */
export function browserSkipReason(page: string): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  if (!existsSync(join(repoRoot, 'web-dist', page))) return `web-dist/${page} is not built (npm run build)`;
  return undefined;
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `re` in stdout (past or future); rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startProc(t: TestContext, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, args, {
    detached: true, // own process group, so kill() also takes its children
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((r) => child.once('exit', () => {
    exited = true;
    for (const w of waiters) w();
    r();
  }));
  const proc: Proc = {
    child,
    output: () => out + err,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) done(() => resolve(m));
          else if (exited) done(() => reject(new Error(`process exited before printing ${re}:\n${out}${err}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${re}:\n${out}${err}`))), timeoutMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (exited) return;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* already gone */
      }
      await exit;
    },
  };
  t.after(() => proc.kill('SIGKILL'));
  return proc;
}

export const compiled = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A real messenger: `skywire messenger` in its own process. Resolves with its PK@HOST:PORT. */
export async function startMessenger(t: TestContext, dir: string): Promise<{ proc: Proc; address: string }> {
  const proc = startProc(t, [compiled('src/cli/skywire.js'), 'messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'messenger.json'),
    '--grace', '1000', '--json'], { SIGNAL_CLIENT: 'false' });
  const [line] = await proc.waitFor(/^\{.*\}$/m);
  return { proc, address: (JSON.parse(line) as { address: string }).address };
}
