// Messengers sharing a registry on a real Redis: a kill -9'd messenger's clients leave the registry within the
// grace period, a client that fails over to another messenger is reachable there at once, and Redis going away
// leaves each messenger serving its own clients (one log line), with everything back when Redis returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { MessengerError } from '../../src/messenger/errors.js';
import { client, exited, nextEvent } from './helpers.js';
import { redisSkipReason, startRedisMesh } from './redis-mesh.js';

const skip = redisSkipReason();

/** Polls `check` until true, for at most `ms` (for what has no event: an entry leaving Redis by its TTL). */
async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function echo(s: import('node:stream').Duplex, text: string): Promise<string> {
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  s.end(text);
  await once(s, 'end');
  return got;
}

test('kill -9 of a messenger: its clients leave the registry within the grace period; one that fails over is reachable at once', { skip }, async (t) => {
  const grace = 2000;
  const mesh = await startRedisMesh(t, { count: 3, graceMs: grace });
  const [m1, m2, m3] = mesh.messengers;
  t.after(() => { if (process.env.DEBUG_MESH) for (const m of mesh.messengers) console.error(m.text.slice(0, 8), m.stderr()); });
  const a = await client(t, [m1.address]);
  const onlyM2 = await client(t, [m2.address]);
  const b = await client(t, [m2.address, m3.address]); // "on M2", M3 its standby
  b.listen(5, (s) => s.pipe(s));
  await until('b to keep M2 only', async () => b.connectedMessengers().join() === m2.address.pk.toString('hex'), 5000);
  await until('b and onlyM2 in the registry', async () => (await a.lookup(b.pkHex)) !== null && (await a.lookup(onlyM2.pkHex)) !== null, 5000);
  assert.equal(await echo(await a.open(b.pkHex, 5), 'via M2'), 'via M2');

  const failedOver = nextEvent<[string]>(b, 'connected', (pk) => pk === m3.address.pk.toString('hex'));
  m2.proc.kill('SIGKILL');
  await exited(m2.proc);
  await failedOver;
  // At once: M3 wrote b's entry when b said HELLO; no TTL has to pass.
  assert.equal(await echo(await a.open(b.pkHex, 5), 'via M3'), 'via M3');
  const got = nextEvent<[string, Buffer]>(b, 'datagram');
  await a.send(b.pkHex, Buffer.from('hi'));
  assert.equal((await got)[1].toString(), 'hi');

  // onlyM2 has nowhere to go: nobody refreshes its entry, which leaves Redis within the grace period.
  await until('the dead messenger\'s client to leave the registry', async () => (await a.lookup(onlyM2.pkHex)) === null, grace + 3000);
  await assert.rejects(a.send(onlyM2.pkHex, Buffer.from('x')), (e: MessengerError) => e.code === 'offline');
});

test('redis goes away: messengers serve their own clients, log it once, and re-register everyone when it is back', { skip }, async (t) => {
  const mesh = await startRedisMesh(t, { count: 2 });
  const [m1, m2] = mesh.messengers;
  const a1 = await client(t, [m1.address]);
  const a2 = await client(t, [m1.address]);
  const b = await client(t, [m2.address]);
  await b.announce({ services: [{ name: 'svc', port: 1 }] });
  a2.listen(3, (s) => s.pipe(s));
  b.listen(3, (s) => s.pipe(s));
  await until('b in the registry', async () => (await a1.query({ service: 'svc' })).total === 1, 5000);

  const lost1 = m1.waitForLog((r) => String(r.msg).startsWith('redis unavailable'));
  const lost2 = m2.waitForLog((r) => String(r.msg).startsWith('redis unavailable'));
  await mesh.redis.kill();
  await Promise.all([lost1, lost2]);

  // Local clients are served as by a messenger alone, however many operations are tried.
  for (let i = 0; i < 20; i++) {
    assert.equal((await a1.lookup(a2.pkHex))?.pk, a2.pkHex);
    assert.equal(await a1.lookup(b.pkHex), null, 'b cannot be found without the shared registry');
    await assert.rejects(a1.send(b.pkHex, Buffer.from('x')), (e: MessengerError) => e.code === 'offline');
  }
  const got = nextEvent<[string, Buffer]>(a2, 'datagram');
  await a1.send(a2.pkHex, Buffer.from('local'));
  assert.equal((await got)[1].toString(), 'local');
  assert.equal(await echo(await a1.open(a2.pkHex, 3), 'local stream'), 'local stream');
  assert.equal((await a1.query({})).total, 2, 'a query answers from the local table');
  const lines = (m: typeof m1) => m.stderr().split('\n').filter((l) => l.includes('redis unavailable')).length;
  assert.equal(lines(m1), 1, 'the loss is logged once, not per operation or per reconnect attempt');

  const back1 = m1.waitForLog((r) => String(r.msg).startsWith('redis is back'));
  const back2 = m2.waitForLog((r) => String(r.msg).startsWith('redis is back'));
  await mesh.redis.restart(); // empty: Redis lost everything, the messengers write their live clients again
  await Promise.all([back1, back2]);
  await until('b re-registered', async () => (await a1.lookup(b.pkHex)) !== null, 5000);
  assert.equal((await a1.query({ service: 'svc' })).total, 1);
  assert.equal(await echo(await a1.open(b.pkHex, 3), 'across again'), 'across again');
  assert.equal(m1.proc.exitCode, null);
  assert.equal(m2.proc.exitCode, null);
  assert.equal(lines(m1), 1);
});
