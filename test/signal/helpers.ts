// Shared by the signal tests: child processes that are always cleaned up, and waiting on events with a deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

// Protocol errors are provoked on purpose here; keep their warnings out of the test output.
process.env.LOG_LEVEL ??= 'error';

export const fixture = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).pathname;

/** Spawns a fixture in its own process group; the group is killed when the test ends, whatever happened. */
export function spawnFixture(t: TestContext, name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [fixture(name), ...args], {
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  Object.defineProperty(child, 'stderrText', { get: () => stderr });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return child;
}

export function exited(child: ChildProcess, timeoutMs = 10_000): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return withTimeout(
    new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    timeoutMs,
    `child ${child.pid} did not exit`,
  );
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Resolves with the first `event` whose argument satisfies `match`. */
export function nextEvent<T>(em: EventEmitter, event: string, match: (v: T) => boolean = () => true, ms = 10_000): Promise<T> {
  let listener: (v: T) => void;
  return withTimeout(
    new Promise<T>((resolve) => {
      listener = (v: T) => {
        if (match(v)) resolve(v);
      };
      em.on(event, listener);
    }),
    ms,
    `event "${event}"`,
  ).finally(() => em.off(event, listener));
}

export function rawConnect(t: TestContext, port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => resolve(s));
    s.once('error', reject);
    t.after(() => s.destroy());
  });
}

/** Resolves when the peer has closed `s` (unread data is discarded, so the end of stream can be seen). */
export function closed(s: Socket, ms = 10_000): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  const done = withTimeout(new Promise<void>((resolve) => s.once('close', () => resolve())), ms, 'socket close');
  s.resume();
  return done;
}

/** A REG frame written by hand, as any client would put it on the wire. */
export function regFrame(json: string, seq = 1): Buffer {
  const body = Buffer.concat([Buffer.from([0x00]), Buffer.from(json)]);
  const head = Buffer.alloc(9);
  head[0] = 0x01;
  head.writeUInt32BE(seq, 1);
  head.writeUInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}
