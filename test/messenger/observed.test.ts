// The messenger tells each client the address its connection came from (as STUN does), in the HELLO reply;
// the client keeps it only if it is an IP address and port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { client, raw, startMessenger, tempDir } from './helpers.js';
import { OP, PROTOCOL_VERSION, T, encodeReq, jsonBuf } from '../../src/messenger/protocol.js';
import { observedOf } from '../../src/messenger/link.js';

test('the HELLO reply carries the address and port the messenger saw the client connect from', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const r = await raw(t, m.address);
  const sock = r.ch.transport as Socket;
  r.ch.write(encodeReq(1, OP.HELLO, jsonBuf({ version: PROTOCOL_VERSION })));
  const res = await r.next(T.RES);
  assert.equal(res[7], 0, 'HELLO accepted');
  const body = JSON.parse(res.subarray(8).toString('utf8')) as { observed?: string; version: number };
  assert.equal(body.observed, `${sock.localAddress}:${sock.localPort}`);
  assert.equal(body.version, PROTOCOL_VERSION);
});

test('a client learns its observed address from each messenger it registers with', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const c = await client(t, [m.address]);
  const seen = c.observedAddresses();
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^127\.0\.0\.1:\d+$/);
  assert.notEqual(seen[0], `127.0.0.1:${m.address.port}`, 'the client side of the connection, not the messenger port');
});

test('a client given localAddress dials from it: the messenger sees that source (the scale bench spreads clients so)', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const c = await client(t, [m.address], { localAddress: '127.0.0.9' });
  const seen = c.observedAddresses();
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^127\.0\.0\.9:\d+$/);
});

test('an observed field that is not an IP address and port is ignored (older or hostile messengers)', () => {
  const of = (v: unknown) => observedOf(Buffer.from(JSON.stringify(v)));
  assert.equal(of({ version: 1, observed: '203.0.113.7:40123' }), '203.0.113.7:40123');
  assert.equal(of({ version: 1, observed: '[2001:db8::7]:40123' }), '[2001:db8::7]:40123');
  assert.equal(of({ version: 1 }), undefined, 'an older messenger sends none');
  for (const bad of ['evil.example:80', '999.1.1.1:80', '1.2.3.4:0', '1.2.3.4:70000', '1.2.3.4', 42, ['1.2.3.4:5'], '1.2.3.4:5'.repeat(20)]) {
    assert.equal(of({ observed: bad }), undefined, JSON.stringify(bad));
  }
  assert.equal(of(null), undefined);
  assert.equal(observedOf(Buffer.from('not json')), undefined);
});
