// A real redis-server for tests and benches: a free port, a fresh data dir, no persistence, killed on stop.
// Tests that need one call redisSkipReason() first and skip with that reason where Debian's redis-server is missing.
import { type ChildProcess, execFileSync, spawn, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:PORT/0 (or the given host), ready for `--redis`. */
  url(host?: string): string;
  /** SIGKILL the server (its data is gone: persistence is off). */
  kill(): Promise<void>;
  /** Start it again on the same port (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Why a real Redis cannot run here, or undefined when it can. */
export function redisSkipReason(): string | undefined {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'redis-server is not installed (Debian package redis-server; .ci/run installs it)';
  }
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Starts redis-server bound to `bind` (default 127.0.0.1; pass 0.0.0.0 to serve a netns lab from the host side,
 * or run it inside a namespace with `prefix`, e.g. ['ip', 'netns', 'exec', NS]).
 */
export async function startRedis(o: { bind?: string; port?: number; prefix?: string[] } = {}): Promise<RedisServer> {
  const port = o.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'sw-redis-'));
  let child: ChildProcess | undefined;

  // Both redis tools run under the same prefix (e.g. inside a network namespace).
  const run = (tool: string, args: string[], stdio: StdioOptions): ChildProcess => {
    const [cmd, ...pre] = [...(o.prefix ?? []), tool];
    return spawn(cmd!, [...pre, ...args], { stdio });
  };

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', o.bind ?? '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'];
    const c = run('redis-server', args, ['ignore', 'pipe', 'pipe']);
    child = c;
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    c.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    // Ready when it answers PING on its port (redis logs nothing at warning level when it is ready).
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`redis-server exited (${code}) before it was ready: ${out.trim()}`));
      c.once('exit', onExit);
      const probe = (): void => {
        const cli = run('redis-cli', ['-p', String(port), 'ping'], ['ignore', 'pipe', 'ignore']);
        let reply = '';
        cli.stdout!.on('data', (d: Buffer) => (reply += d.toString()));
        cli.once('exit', () => {
          if (reply.trim() === 'PONG') {
            c.off('exit', onExit);
            resolve();
          } else if (c.exitCode === null) setTimeout(probe, 20); // poll the port: the server has no ready event
        });
      };
      probe();
    });
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  };

  await launch();
  return {
    port,
    url: (host = '127.0.0.1') => `redis://${host}:${port}/0`,
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
