// Window sizing across messengers of a shared registry (docs/messenger.md, "Window sizing"): a stream between a
// client of a messenger from before window sizing (1 MiB windows) and a client of a new one. The new messenger
// passes credit to the old one only up to the old one's window and banks the rest (an old messenger closes a link
// whose credit passes 1 MiB, which would cut every stream on it), so a growing window on the new side is safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { MessengerServer, type MessengerLimits } from '../../src/messenger/server.js';
import { RedisDirectory } from '../../src/messenger/shared-directory.js';
import { formatMessengerAddress } from '../../src/messenger/address.js';
import { parseRedisUrl } from '../../src/util/redis-url.js';
import { redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { client } from './helpers.js';
import { LEGACY_LIMITS, MiB, transfer } from './window-helpers.js';

const skip = redisSkipReason();

test('a stream between clients of an old and a new messenger of one registry moves intact both ways', { skip }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const start = async (limits: Partial<MessengerLimits>) => {
    const key = generateKeyPair();
    const server = new MessengerServer({ key, host: '127.0.0.1', port: 0, graceMs: 3000, limits });
    const address = { pk: key.publicKey, ...(await server.listen()) };
    const dir = new RedisDirectory({
      redis: parseRedisUrl(redis.url()),
      self: pkToHex(key.publicKey),
      addresses: [formatMessengerAddress(address)],
      ttlMs: 3000,
      live: () => server.liveEntries(),
      liveEntry: (pk) => server.liveEntry(pk),
    });
    server.useShared(dir);
    t.after(() => server.close());
    const deadline = Date.now() + 10_000;
    while (!dir.available) {
      assert.ok(Date.now() < deadline, 'the messenger reached redis');
      await new Promise((r) => setTimeout(r, 20));
    }
    return { server, address };
  };
  const older = await start(LEGACY_LIMITS);
  const newer = await start({});
  const a = await client(t, [older.address]);
  const b = await client(t, [newer.address]);

  const toNew = await transfer(a, b, 1, 24 * MiB);
  assert.equal(toNew.got, toNew.sent, 'old messenger -> new messenger: SHA-256 of what arrived');
  const toOld = await transfer(b, a, 2, 8 * MiB);
  assert.equal(toOld.got, toOld.sent, 'new messenger -> old messenger: SHA-256 of what arrived');
  assert.ok(toOld.maxWindow <= MiB, `a client of the old messenger keeps to its window (${toOld.maxWindow})`);
  // The link between the messengers (and so every stream on it) lived through both.
  const again = await transfer(a, b, 3, MiB);
  assert.equal(again.got, again.sent);
});
