// Several messengers sharing one registry on a real Redis (`skywire messenger --redis`): a client connected only
// to M1 finds, queries, sends to and opens streams to a client connected only to M2, with the same API and errors
// as on one messenger. Without --redis each messenger stays alone, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Redis } from 'ioredis';
import type { MessengerError } from '../../src/messenger/errors.js';
import { generateKeyPair, shortPk } from '../../src/net/keys.js';
import { client, nextEvent, startMessenger, tempDir } from './helpers.js';
import { redisSkipReason, startRedisMesh } from './redis-mesh.js';

const skip = redisSkipReason();

function collect(s: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return once(s, 'end').then(() => Buffer.concat(parts));
}

test('a client on M1 reaches a client on M2: lookup, query, send and a stream, with the usual errors', { skip }, async (t) => {
  const mesh = await startRedisMesh(t);
  const [m1, m2] = mesh.messengers;
  const a = await client(t, [m1.address]);
  const b = await client(t, [m2.address]);
  await b.announce({ addresses: ['192.0.2.7:7000'], services: [{ name: 'far', port: 9, attrs: { country: 'es' } }] });

  // The entry is written to Redis soon after the announce, not synchronously: the first lookup may miss it.
  let entry = await a.lookup(b.pkHex);
  for (const end = Date.now() + 5000; !entry?.services.length && Date.now() < end; ) entry = await a.lookup(b.pkHex);
  assert.equal(entry?.pk, b.pkHex);
  assert.deepEqual(entry?.addresses, ['192.0.2.7:7000']);
  assert.deepEqual(entry?.services, [{ name: 'far', port: 9, attrs: { country: 'es' } }]);
  const q = await a.query({ service: 'far', attr: { key: 'country', value: 'es' } });
  assert.equal(q.total, 1);
  assert.equal(q.entries[0].pk, b.pkHex);
  assert.equal((await a.query({ service: 'far', attr: { key: 'country', value: 'de' } })).total, 0);
  assert.ok((await a.query({})).entries.some((e) => e.pk === b.pkHex), 'a query of everything lists keys of M2');

  const got = nextEvent<[string, Buffer]>(b, 'datagram');
  await a.send(b.pkHex, Buffer.from('across messengers'));
  const [from, data] = await got;
  assert.equal(from, a.pkHex, 'the sender is the key proven to M1, not M1');
  assert.equal(data.toString(), 'across messengers');
  const back = nextEvent<[string, Buffer]>(a, 'datagram');
  await b.send(a.pkHex, Buffer.from('and back'));
  assert.deepEqual((await back).map(String), [b.pkHex, 'and back']);

  let openedBy = '';
  b.listen(9, (s, who) => {
    openedBy = who;
    s.pipe(s);
  });
  const payload = randomBytes(3 * 1024 * 1024); // several windows: credit must flow back through both relays
  const s = await a.open(b.pkHex, 9);
  const echoed = collect(s);
  s.end(payload);
  assert.ok((await echoed).equals(payload));
  assert.equal(openedBy, a.pkHex);

  const nobody = randomBytes(33);
  nobody[0] = 2;
  assert.equal(await a.lookup(nobody), null);
  await assert.rejects(a.send(nobody, Buffer.from('x')), (e: MessengerError) => e.code === 'offline');
  await assert.rejects(a.open(nobody, 9), (e: MessengerError) => e.code === 'offline');
  await assert.rejects(a.open(b.pkHex, 10), (e: MessengerError) => e.code === 'refused', 'nothing listens on port 10 at b');
  await assert.rejects(a.send(b.pkHex, Buffer.alloc(61 * 1024)), (e: MessengerError) => e.code === 'too_large');

  // b's half of a stream goes with its connection: a's side learns it as on one messenger.
  b.listen(11, (x) => x.on('error', () => {}).resume());
  const s2 = await a.open(b.pkHex, 11);
  const err = once(s2, 'error');
  await b.close();
  const [e] = (await err) as [MessengerError];
  assert.equal(e.code, 'peer_gone');
  // SIGTERM: a clean exit, its record leaves Redis at once (peers stop dialing it).
  const redis = new Redis(mesh.redis.port, '127.0.0.1');
  t.after(() => redis.disconnect());
  assert.equal(await redis.exists(`sw:msg:m:${m2.address.pk.toString('hex')}`), 1);
  assert.equal(await m2.stop(), 0);
  assert.equal(await redis.exists(`sw:msg:m:${m2.address.pk.toString('hex')}`), 0);
  assert.equal(await m1.stop(), 0);
});

test('without --redis each messenger is alone, as before', async (t) => {
  const dir = tempDir(t);
  const m1 = await startMessenger(t, { key: join(dir, 'm1.json') });
  const m2 = await startMessenger(t, { key: join(dir, 'm2.json') });
  const a = await client(t, [m1.address]);
  const b = await client(t, [m2.address]);
  assert.equal(await a.lookup(b.pkHex), null);
  await assert.rejects(a.send(b.pkHex, Buffer.from('x')), (e: MessengerError) => e.code === 'offline');
});

test('a query pages through the clients of every messenger, ordered by key, as on one messenger', { skip }, async (t) => {
  const mesh = await startRedisMesh(t);
  const [m1, m2] = mesh.messengers;
  const cs = await Promise.all([m1, m2, m2, m1, m2].map((m) => client(t, [m.address])));
  await Promise.all(cs.map((c, i) => c.announce({ services: [{ name: 'pg', port: i }] })));
  const want = cs.map((c) => c.pkHex).sort();
  const got: string[] = [];
  for (let offset = 0; offset < 6; offset += 2) {
    const page = await cs[0].query({ service: 'pg', offset, limit: 2 });
    assert.equal(page.total, 5);
    got.push(...page.entries.map((e) => e.pk));
  }
  assert.deepEqual(got, want);
});

test('an entry announced while a second HELLO is on its way is what the registry keeps (no older copy wins)', { skip }, async (t) => {
  // Refresh every 10 s: a stale copy written by the HELLO of the messenger the client then parks would stay that long.
  const mesh = await startRedisMesh(t, { graceMs: 30_000 });
  const [m1, m2] = mesh.messengers;
  const reader = await client(t, [m2.address]);
  for (let i = 0; i < 3; i++) {
    const key = generateKeyPair();
    const parkedAt = (m: typeof m1) => m.waitForLog((r) => r.msg === 'client disconnected' && r.pk === shortPk(key.publicKey));
    const parked = Promise.race([parkedAt(m1), parkedAt(m2)]);
    const c = await client(t, [m1.address, m2.address], { localKey: key }); // resolves with the first registration
    await c.announce({ addresses: [`192.0.2.${i + 1}:7000`] });
    await parked; // the second HELLO was answered (its copy written), then that messenger was left
    let seen: string[] = [];
    for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      seen = (await reader.lookup(c.pkHex))?.addresses ?? [];
      if (seen.length) break;
    }
    assert.deepEqual(seen, [`192.0.2.${i + 1}:7000`], `round ${i}`);
  }
});
