// Registering by handshake key, lookup, query with paging, datagrams and their error codes, against a real
// messenger process started through the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { dialSecure } from '../../src/net/tcp.js';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { MessengerError } from '../../src/messenger/errors.js';
import { encodeReq, OP, T } from '../../src/messenger/protocol.js';
import { CLI, client, nextEvent, startMessenger, tempDir } from './helpers.js';

test('the CLI prints the key and PK@HOST:PORT, creates the key file 0600, and keeps the key on restart', async (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'm.json');
  const m = await startMessenger(t, { key });
  assert.match(m.text, /^[0-9a-f]{66}@127\.0\.0\.1:\d+$/);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.equal(await m.stop(), 0, 'SIGTERM closes cleanly');
  const again = await startMessenger(t, { key });
  assert.equal(pkToHex(again.address.pk), pkToHex(m.address.pk));
  await again.stop();
});

test('the CLI names bad options in one line', () => {
  const r = spawnSync(process.execPath, [CLI, 'messenger', '--listen', 'nohost', '--key', '/tmp/unused-key.json'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--listen: "nohost" is not HOST:PORT/);
  const r2 = spawnSync(process.execPath, [CLI, 'messenger', '--grace', 'soon'], { encoding: 'utf8' });
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /--grace must be an integer/);
});

test('register, announce, lookup by key, query by service and attribute with paging', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const a = await client(t, [m.address]);
  const others = await Promise.all(Array.from({ length: 7 }, () => client(t, [m.address])));
  await a.announce({ addresses: ['10.0.0.1:5000'], services: [{ name: 'chat', port: 1, attrs: { lang: 'en' } }] });
  for (const [i, o] of others.entries()) {
    await o.announce({ services: [{ name: 'socks', port: 1080, attrs: { country: i % 2 ? 'es' : 'de' } }] });
  }

  const e = await a.lookup(others[0].pkHex);
  assert.equal(e?.pk, others[0].pkHex);
  assert.deepEqual(e?.services, [{ name: 'socks', port: 1080, attrs: { country: 'de' } }]);
  const self = await others[0].lookup(a.key.publicKey);
  assert.deepEqual(self?.addresses, ['10.0.0.1:5000']);
  assert.equal(await a.lookup(generateKeyPair().publicKey), null, 'an unknown key is null, not an error');

  const page1 = await a.query({ service: 'socks', limit: 3 });
  const page2 = await a.query({ service: 'socks', limit: 3, offset: 3 });
  const page3 = await a.query({ service: 'socks', limit: 3, offset: 6 });
  assert.equal(page1.total, 7);
  assert.deepEqual([page1.entries.length, page2.entries.length, page3.entries.length], [3, 3, 1]);
  const all = [...page1.entries, ...page2.entries, ...page3.entries].map((x) => x.pk);
  assert.deepEqual([...all].sort(), others.map((o) => o.pkHex).sort(), 'pages cover every match exactly once');
  const es = await a.query({ attr: { key: 'country', value: 'es' } });
  assert.equal(es.total, 3);
  const none = await a.query({ service: 'vpn' });
  assert.deepEqual(none, { entries: [], total: 0 });

  await assert.rejects(a.announce({ services: [{ name: '', port: 1 }] }), (err: MessengerError) => err.code === 'bad_request');
  await assert.rejects(a.announce({ addresses: ['not an address'] }), (err: MessengerError) => err.code === 'bad_request');
  await assert.rejects(a.lookup('zz'), /not hexadecimal/);
});

test('an entry leaves after the grace period once its client goes', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json'), args: ['--grace', '1000'], env: { LOG_LEVEL: 'info' } });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address]);
  await b.announce({ services: [{ name: 'x', port: 2 }] });
  assert.ok(await a.lookup(b.pkHex));
  const bLeft = m.waitForLog((rec) => rec.msg === 'client disconnected' && rec.pk === b.pkHex.slice(0, 8));
  await b.close();
  await bLeft;
  const during = await a.lookup(b.pkHex);
  assert.ok(during, 'kept during the grace period');
  await assert.rejects(a.send(b.pkHex, Buffer.from('hi')), (err: MessengerError) => err.code === 'offline');
  await m.waitForLog((rec) => rec.msg === 'entry expired' && rec.pk === b.pkHex.slice(0, 8));
  assert.equal(await a.lookup(b.pkHex), null);
});

test('datagrams both ways, and offline, too_large and rate_limited errors', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json'), args: ['--datagram-rate', '50'] });
  const a = await client(t, [m.address]);
  const b = await client(t, [m.address]);
  const atB = nextEvent<[string, Buffer]>(b, 'datagram');
  await a.send(b.key.publicKey, Buffer.from('hello b'));
  const [from, data] = await atB;
  assert.equal(from, a.pkHex);
  assert.equal(data.toString(), 'hello b');
  const atA = nextEvent<[string, Buffer]>(a, 'datagram');
  await b.send(a.pkHex, Buffer.from('hello a'));
  assert.equal((await atA)[1].toString(), 'hello a');

  await assert.rejects(a.send(generateKeyPair().publicKey, Buffer.from('x')), (err: MessengerError) => err.code === 'offline');
  await assert.rejects(a.send(b.pkHex, Buffer.alloc(61441)), (err: MessengerError) => err.code === 'too_large');
  await assert.rejects(a.send(b.pkHex, Buffer.alloc(70000)), (err: MessengerError) => err.code === 'too_large');

  // Burst 100 at 50/s: a flood of 300 must see some refused, and b must get exactly the accepted ones.
  let got = 0;
  b.on('datagram', () => got++);
  const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => a.send(b.pkHex, Buffer.from(String(i)))));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const limited = results.filter((r) => r.status === 'rejected' && (r.reason as MessengerError).code === 'rate_limited').length;
  assert.ok(limited > 0, 'some datagrams are rate limited');
  assert.equal(ok + limited, 300);
  // The connection stays usable, and the accepted ones all arrived (the probe comes after them on the same path).
  const probe = nextEvent<[string, Buffer]>(b, 'datagram', (_f, d) => d.toString() === 'probe');
  await (async () => {
    for (;;) {
      try {
        return await a.send(b.pkHex, Buffer.from('probe'));
      } catch (err) {
        if ((err as MessengerError).code !== 'rate_limited') throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  await probe;
  assert.equal(got, ok + 1);
});

test('registration is by handshake key: nobody can claim a key they do not hold', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const victim = generateKeyPair();
  const a = await client(t, [m.address]);
  // A raw connection with its own key says HELLO claiming the victim's key in every way the JSON allows.
  const mallory = generateKeyPair();
  const ch = await dialSecure(m.address.host, m.address.port, m.address.pk, { localKey: mallory });
  t.after(() => ch.destroy());
  const hello = { version: 1, pk: pkToHex(victim.publicKey), publicKey: pkToHex(victim.publicKey), services: [{ name: 'bank', port: 1 }] };
  ch.write(encodeReq(1, OP.HELLO, Buffer.from(JSON.stringify(hello))));
  const res = await new Promise<Buffer>((resolve) => ch.once('data', resolve));
  assert.equal(res[0], T.RES);
  assert.equal(await a.lookup(victim.publicKey), null, 'the claimed key is not registered');
  const e = await a.lookup(mallory.publicKey);
  assert.deepEqual(e?.services, [{ name: 'bank', port: 1 }], 'the entry is under the key proven in the handshake');
  // The messenger checks what it is told itself: an invalid entry is refused with bad_request and a reason.
  ch.write(encodeReq(2, OP.ANNOUNCE, Buffer.from(JSON.stringify({ services: [{ name: 'x'.repeat(100), port: 1 }] }))));
  const bad = await new Promise<Buffer>((resolve) => ch.once('data', resolve));
  assert.deepEqual([bad[0], bad.readUInt32BE(3), bad[7]], [T.RES, 2, 1]);
  assert.match(bad.subarray(8).toString(), /services\.0\.name/);
  // And a client cannot even connect without the messenger's real key (the initiator authenticates it).
  await assert.rejects(dialSecure(m.address.host, m.address.port, generateKeyPair().publicKey, { localKey: mallory }));
});
