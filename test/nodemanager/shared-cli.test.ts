// `skywire node-manager --redis URL` as a user meets it: a bad URL is a usage error (exit 2) naming what is wrong;
// a Redis that is not there yet does not stop the manager (it starts, says so once, and joins when Redis comes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { CLI, Cluster, waitFor } from '../node/harness.js';
import { redisSkipReason, startRedis } from '../helpers/redis-server.js';

const run = promisify(execFile);

test('--redis with a bad URL: exit 2 and a message naming the URL and what is wrong', async () => {
  const err = await run(process.execPath, [CLI, 'node-manager', '--key', '/nonexistent/k.json', '--messenger', `02${'a'.repeat(64)}@127.0.0.1:1`, '--redis', 'http://h:1/0']).then(
    () => assert.fail('it started'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(err.code, 2);
  assert.match(err.stderr, /--redis/);
  assert.ok(err.stderr.includes('http://h:1/0'), err.stderr);
});

test('a manager whose Redis is not up yet starts, logs it once, and joins when Redis comes', { skip: redisSkipReason(), timeout: 30_000 }, async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const m = await c.spawn(['messenger', '--listen', '127.0.0.1:0', '--key', join(c.dir, 'messenger.json'), '--json']);
  const mgr = await c.spawn(['node-manager', '--key', join(c.dir, 'mgr.json'), '--messenger', m.info.address, '--redis', `redis://127.0.0.1:${port}/0`, '--json']);
  assert.equal(mgr.stderr().split('\n').filter((l) => l.includes('redis unavailable')).length, 1, mgr.stderr());
  const redis = await startRedis({ port });
  t.after(() => redis.stop());
  await waitFor('"redis is back" in the log', () => mgr.stderr().includes('redis is back'));
  const db = new Redis({ port });
  t.after(() => void db.disconnect());
  await waitFor('the manager listed as alive', async () => (await db.exists(`sw:nm:manager:${mgr.info.pk}`)) === 1);
  assert.equal(mgr.stderr().split('\n').filter((l) => l.includes('redis unavailable')).length, 1);
});
