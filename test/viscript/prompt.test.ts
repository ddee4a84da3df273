// The interactive prompt in a real terminal (a pty made by util-linux `script`): completion, attach with
// Ctrl+Z to detach, history, quit. Skipped where `script` is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_APP, VISCRIPT_CLI, goneWithin, isAlive, tempDir, writeConfig } from './helpers.js';

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

interface Pty {
  /** Types `keys` and waits until `text` appears in what the terminal shows after that. */
  type(keys: string, text: string): Promise<void>;
  exited: Promise<number | null>;
  dir: string;
  /** Types `keys` without waiting for anything to appear. */
  send(keys: string): void;
  /** Everything the terminal showed so far. */
  screen(): string;
}

/** Viscript's interactive prompt in a real pty (util-linux `script`), with the fixture app as "ticker". */
function startPrompt(t: import('node:test').TestContext): Pty {
  const dir = tempDir(t);
  const file = writeConfig(dir, `apps:\n  ticker:\n    desc: the fixture app\n    path: ${JSON.stringify(FIXTURE_APP)}\n`);
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, VISCRIPT_CLI, '--config', file, '--signal-address', '127.0.0.1:0'].map(quote).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: { ...process.env, TERM: 'xterm' } });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  let screen = '';
  let waiter: { text: string; from: number; resolve: () => void } | undefined;
  child.stdout.on('data', (d: Buffer) => {
    screen += d.toString();
    if (waiter && screen.indexOf(waiter.text, waiter.from) >= 0) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const type = (keys: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      const from = screen.length;
      // A deadline only to fail with what the terminal showed, instead of a bare test timeout.
      const timer = setTimeout(() => reject(new Error(`"${text}" never appeared; screen ends with ${JSON.stringify(screen.slice(-400))}`)), 15_000);
      waiter = {
        text,
        from,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      child.stdin.write(keys);
    });
  return { type, exited, dir, send: (keys) => void child.stdin.write(keys), screen: () => screen };
}

const skip = !hasScript && 'util-linux script not installed';

test('prompt: tab completion, attach and Ctrl+Z, history, quit', { skip }, async (t) => {
  const { type, exited, dir } = startPrompt(t);
  await type('', 'viscript> ');
  await type('help ti\t', 'help ticker');
  await type('\r', 'ticker: the fixture app');
  await type('s -a ticker --tick 60000\r', 'attached (Ctrl+Z detaches)');
  await type('Hello Prompt\r', 'echo: Hello Prompt');
  await type('\x1a', 'detached from 2');
  await type('la\r', 'ticker');
  await type('quit\r', 'stopping every app and Viscript');
  assert.equal(await exited, 0);
  const history = readFileSync(join(dir, '.viscript', 'history'), 'utf8');
  assert.deepEqual(history.trim().split('\n'), ['help ticker', 's -a ticker --tick 60000', 'la', 'quit']);
});

/** Starts the ticker from the prompt and returns its pid. */
async function startTicker(p: Pty): Promise<number> {
  await p.type('', 'viscript> ');
  await p.type('s ticker\r', 'started ticker with id 2 (pid ');
  return Number(/started ticker with id 2 \(pid (\d+)\)/.exec(p.screen())![1]);
}

test('prompt: Ctrl+C clears a typed line, once on an empty line warns, twice stops every app and Viscript', { skip }, async (t) => {
  const p = startPrompt(t);
  const pid = await startTicker(p);
  await p.type('la', 'la');
  await p.type('\x03', 'viscript> ');
  assert.equal(isAlive(pid), true, 'Ctrl+C on a typed line only clears it');
  await p.type('\x03', 'press Ctrl+C again or type "quit"');
  assert.equal(isAlive(pid), true, 'one Ctrl+C on an empty line stops nothing');
  p.send('\x03');
  assert.equal(await p.exited, 0);
  assert.equal(await goneWithin(pid), true, 'the app was stopped');
});

test('prompt: Ctrl+D stops every app and Viscript', { skip }, async (t) => {
  const p = startPrompt(t);
  const pid = await startTicker(p);
  p.send('\x04');
  assert.equal(await p.exited, 0);
  assert.equal(await goneWithin(pid), true, 'the app was stopped');
  assert.equal(existsSync(join(p.dir, '.viscript', 'control.json')), false, 'control.json is removed on stop');
});
