// The Redis harness the control-plane tests rely on: a real server that ioredis can reach, that can be killed
// (data gone) and started again on the same port.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Redis } from 'ioredis';
import { redisSkipReason, startRedis } from './redis-server.js';

test('a real redis-server starts on a free port, serves ioredis, and comes back empty after a kill', { skip: redisSkipReason() }, async (t) => {
  const r = await startRedis();
  t.after(() => r.stop());
  const c = new Redis(r.url(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(() => c.disconnect());
  await c.connect();
  await c.set('k', 'v');
  assert.equal(await c.get('k'), 'v');
  await r.kill();
  await r.restart();
  const d = new Redis(r.url(), { lazyConnect: true });
  t.after(() => d.disconnect());
  await d.connect();
  assert.equal(await d.get('k'), null, 'persistence is off: a killed server comes back empty');
});
