// Unauthenticated connections that never finish a handshake must not lock legitimate peers out of a secure
// listener: pending handshakes are bounded per source address, act 1 times out quickly, and a new source
// always finds room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { generateKeyPair } from '../../src/net/keys.js';
import { Handshake } from '../../src/net/handshake.js';
import { HandshakeError, secureAccept } from '../../src/net/secure.js';
import { listenSecure } from '../../src/net/tcp.js';
import { sourceOf } from '../../src/net/handshake-admission.js';
import { setLogSink } from '../../src/util/log.js';
import { dialFrom, flood } from './helpers.js';

const SERVER = generateKeyPair();

test('300 silent connections from one source do not lock out handshakes from another', async (t) => {
  const logged: string[] = [];
  setLogSink((line) => logged.push(line));
  t.after(() => setLogSink((line) => process.stderr.write(line + '\n')));
  let authenticated = 0;
  let wake: (() => void) | undefined;
  const l = await listenSecure({ localKey: SERVER }, (ch) => {
    authenticated++;
    wake?.();
    ch.destroy();
  });
  t.after(() => l.close());
  const port = l.address().port;
  const f = await flood(t, port, '127.0.0.2', 300);
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => dialFrom(port, SERVER.publicKey, '127.0.0.3')));
  const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  assert.deepEqual(failed, [], 'every legitimate handshake completes during the flood');
  for (const r of results) if (r.status === 'fulfilled') r.value.destroy();
  while (authenticated < 6) await new Promise<void>((r) => (wake = r)); // the responder sees act 3 last
  f.stop();
  assert.ok(f.drops() > 0);
  // The refusals are logged once per interval, with a count, not once each.
  const lines = logged.filter((l) => l.includes('flood protection'));
  assert.ok(lines.length <= 2, `${lines.length} log lines for ${f.drops()} refusals`);
});

test('floods from many sources still leave room for a new source: the heaviest source gives way', async (t) => {
  const l = await listenSecure({ localKey: SERVER, maxPendingHandshakes: 40, maxPendingPerSource: 20 }, () => {});
  t.after(() => l.close());
  const port = l.address().port;
  // Two sources fill the listener to its global cap (20 + 20 pending), each at its own cap too.
  const f2 = await flood(t, port, '127.0.0.2', 25);
  const f4 = await flood(t, port, '127.0.0.4', 25);
  const ch = await dialFrom(port, SERVER.publicKey, '127.0.0.3');
  ch.destroy();
  f2.stop();
  f4.stop();
});

test('act 1 must arrive within act1TimeoutMs; after it the whole handshake limit applies', async (t) => {
  const l = await listenSecure({ localKey: SERVER, act1TimeoutMs: 100, handshakeTimeoutMs: 1500 }, () => {});
  t.after(() => l.close());
  const port = l.address().port;
  const order: string[] = [];
  // `stalled` sends a valid act 1, reads act 2, and never sends act 3.
  const stalled = connect(port, '127.0.0.1');
  stalled.on('error', () => {});
  t.after(() => stalled.destroy());
  const hs = new Handshake('initiator', generateKeyPair(), { remotePublicKey: SERVER.publicKey, prologue: 'skywire' });
  await once(stalled, 'connect');
  stalled.write(hs.act1());
  let act2 = 0;
  const gotAct2 = new Promise<void>((resolve) =>
    stalled.on('data', (d: Buffer) => {
      act2 += d.length;
      if (act2 >= 50) resolve();
    }),
  );
  const stalledClosed = once(stalled, 'close').then(() => order.push('stalled'));
  await gotAct2;
  // Opened later, `silent` sends nothing: it is dropped at the act 1 limit, before the handshake limit of the other.
  const silent = connect(port, '127.0.0.1');
  silent.on('error', () => {});
  t.after(() => silent.destroy());
  silent.resume();
  await Promise.all([once(silent, 'close').then(() => order.push('silent')), stalledClosed]);
  assert.deepEqual(order, ['silent', 'stalled'], 'the silent one goes at the act 1 limit, the other at the handshake limit');
  assert.equal(act2, 50, 'the stalled peer got act 2 and nothing else');
});

test('a dial to a listener that completes act 2 but not the rest times out with TIMEOUT', async (t) => {
  // The responder side of the 10 s limit, shortened: a client never sending act 3 fails the responder with TIMEOUT.
  const errors: Error[] = [];
  const srv = createServer((s) => {
    secureAccept(s, { localKey: SERVER, handshakeTimeoutMs: 200 }).then(
      () => errors.push(new Error('accepted')),
      (e: Error) => errors.push(e),
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const s = connect(port, '127.0.0.1');
  t.after(() => s.destroy());
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(new Handshake('initiator', generateKeyPair(), { remotePublicKey: SERVER.publicKey, prologue: 'skywire' }).act1());
  s.resume();
  await once(s, 'close');
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof HandshakeError && errors[0].code === 'TIMEOUT', String(errors[0]));
});

test('handshakes are counted per IPv4 address and per IPv6 /64', () => {
  assert.equal(sourceOf('127.0.0.2'), '127.0.0.2');
  assert.equal(sourceOf('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceOf('2001:db8:0:0:ffff:1:2:3'), '2001:db8:0:0::/64', 'another host of the same /64');
  assert.equal(sourceOf('2001:DB8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(sourceOf('::1'), '0:0:0:0::/64');
});
