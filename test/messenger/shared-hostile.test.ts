// What a stranger or a client can do to messengers sharing a registry: pose as a messenger (PEER is checked in
// Redis, FOPEN is for proven peers only), write someone else's key to Redis (nothing names a key: the handshake
// does), or make a messenger hold unbounded work for it by aiming at keys served by a stalled messenger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { generateKeyPair } from '../../src/net/keys.js';
import type { MessengerError } from '../../src/messenger/errors.js';
import { CODES, OP, T, encodeFopen, encodeReq, jsonBuf } from '../../src/messenger/protocol.js';
import { client, raw } from './helpers.js';
import { redisSkipReason, startRedisMesh } from './redis-mesh.js';

const skip = redisSkipReason();

test('a stranger cannot pose as a messenger: PEER is refused, FOPEN and forwarded sends are not for clients', { skip }, async (t) => {
  const mesh = await startRedisMesh(t, { count: 1 });
  const [m1] = mesh.messengers;
  const victim = await client(t, [m1.address]);
  const r = await raw(t, m1.address);
  r.ch.write(encodeReq(1, OP.PEER, jsonBuf({ version: 1 })));
  const res = await r.next(T.RES);
  assert.equal(CODES[res[7]], 'bad_request');
  assert.match(res.subarray(8).toString(), /not a messenger of this registry/);
  const fsend = Buffer.concat([victim.publicKey, generateKeyPair().publicKey, Buffer.from('forged sender')]);
  r.ch.write(encodeReq(2, OP.FSEND, fsend));
  assert.equal(CODES[(await r.next(T.RES))[7]], 'unsupported');
  r.ch.write(encodeFopen(1, 65536, 1, victim.publicKey, generateKeyPair().publicKey));
  assert.equal(await r.goaway(), 'protocol_error');
});

test('only the key proven in the handshake reaches Redis, whatever a HELLO claims', { skip }, async (t) => {
  const mesh = await startRedisMesh(t, { count: 1 });
  const other = generateKeyPair().publicKey.toString('hex');
  const r = await raw(t, mesh.messengers[0].address);
  r.ch.write(encodeReq(1, OP.HELLO, jsonBuf({ version: 1, pk: other, publicKey: other, services: [{ name: 'x', port: 1 }] })));
  assert.equal(CODES[(await r.next(T.RES))[7]], 'ok'); // answered once written
  const redis = new Redis(mesh.redis.port, '127.0.0.1');
  t.after(() => redis.disconnect());
  const keys = await redis.keys('sw:msg:e:*');
  assert.equal(keys.length, 1);
  assert.notEqual(keys[0], `sw:msg:e:${other}`);
  assert.equal((await redis.hget(keys[0], 'entry'))?.includes(other), false);
});

test('requests waiting on a stalled messenger are bounded per client; the rest are refused at once', { skip, timeout: 30_000 }, async (t) => {
  const mesh = await startRedisMesh(t, { count: 2 });
  const [m1, m2] = mesh.messengers;
  const a = await client(t, [m1.address], { requestTimeoutMs: 20_000 });
  const b = await client(t, [m2.address]);
  await a.send(b.pkHex, Buffer.from('link up')); // M1 -> M2 forwarding works, and the peer link exists
  process.kill(m2.proc.pid!, 'SIGSTOP'); // alive to TCP, answering nothing
  t.after(() => {
    try {
      process.kill(m2.proc.pid!, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  const sends = Array.from({ length: 100 }, () => a.send(b.pkHex, Buffer.alloc(1000)).then(() => 'ok', (e: MessengerError) => e.code));
  // The first 64 wait on M2; the others are refused without waiting for anything.
  const refused = await Promise.race([
    Promise.all(sends.slice(64)),
    new Promise<string[]>((r) => setTimeout(() => r(['still waiting']), 4000)),
  ]);
  assert.deepEqual([...new Set(refused)], ['rate_limited']);
  // M1 still answers this client's local requests meanwhile.
  assert.equal((await a.lookup(a.pkHex))?.pk, a.pkHex);
  process.kill(m2.proc.pid!, 'SIGCONT');
  const first = await Promise.all(sends.slice(0, 64));
  assert.ok(first.every((c) => c === 'ok' || c === 'timeout' || c === 'offline'), first.join());
});
