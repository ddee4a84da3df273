// A control plane with no single messenger: one real redis-server and N real `skywire messenger --redis` processes
// sharing it. Reused by the shared-registry tests, the failover tests and, with node managers on the same Redis,
// by startControlPlane (test/nodemanager/shared-cluster.ts) for the final acceptance test (nodes split across
// messengers: "a node on M1" is a node whose --messenger list starts with M1; it registers there only and fails
// over down its list, see docs/messenger.md "Shared registry").
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { redisSkipReason, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startMessenger, tempDir, type RunningMessenger } from './helpers.js';

export { redisSkipReason };

export interface RedisMesh {
  redis: RedisServer;
  messengers: RunningMessenger[];
  /** The messengers' PK@HOST:PORT texts, the one at `first` listed first (for a node's --messenger flags). */
  order(first: number): string[];
  /** --messenger flags for a node on messenger `first` that fails over to the others. */
  messengerArgs(first: number): string[];
  /** Starts one more messenger on the same Redis. */
  add(): Promise<RunningMessenger>;
  dir: string;
}

/**
 * Starts redis-server and `count` messengers on it (each killed after the test). `graceMs` is the messengers'
 * --grace, also their Redis TTL; `args` go to every messenger; LOG_LEVEL info so tests can wait on log lines.
 */
export async function startRedisMesh(
  t: TestContext,
  o: { count?: number; graceMs?: number; args?: string[]; redisBind?: string; listenHost?: string } = {},
): Promise<RedisMesh> {
  const redis = await startRedis({ bind: o.redisBind });
  t.after(() => redis.stop());
  const dir = tempDir(t);
  const messengers: RunningMessenger[] = [];
  const add = async (): Promise<RunningMessenger> => {
    const m = await startMessenger(t, {
      key: join(dir, `m${messengers.length + 1}.json`),
      listen: `${o.listenHost ?? '127.0.0.1'}:0`,
      args: ['--redis', redis.url(), '--grace', String(o.graceMs ?? 3000), ...(o.args ?? [])],
      env: { LOG_LEVEL: 'info' },
    });
    // Ready once it reached Redis (before that it serves its own clients only, as when Redis is down).
    if (!m.stderr().includes('"msg":"connected to redis"')) await m.waitForLog((r) => r.msg === 'connected to redis');
    messengers.push(m);
    return m;
  };
  for (let i = 0; i < (o.count ?? 2); i++) await add();
  const order = (first: number) => [messengers[first], ...messengers.filter((_, i) => i !== first)].map((m) => m.text);
  return {
    redis,
    messengers,
    order,
    messengerArgs: (first) => order(first).flatMap((m) => ['--messenger', m]),
    add,
    dir,
  };
}
