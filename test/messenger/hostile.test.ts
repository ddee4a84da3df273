// Attacks on a real `skywire messenger` process (issue 17) and the limits docs/messenger.md promises: a
// handshake flood from one address, JSON of the wrong shape in every request, the idle timeout, keepalive-based
// reconnects and the handshake limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/net/keys.js';
import { Handshake } from '../../src/net/handshake.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { CODES, FrameReader, OP, T, encodePing, encodeReq, encodeRes, jsonBuf } from '../../src/messenger/protocol.js';
import type { MessengerError } from '../../src/messenger/errors.js';
import { listenSecure } from '../../src/net/tcp.js';
import { dialFrom, flood } from '../net/helpers.js';
import { client, nextEvent, raw, startMessenger, tempDir } from './helpers.js';

type Raw = Awaited<ReturnType<typeof raw>>;

/** Sends one request on a raw connection and returns the RES code name and payload text. */
async function ask(r: Raw, req: number, op: number, payload: Buffer): Promise<{ code: string; text: string }> {
  const res = nextEvent<[Buffer]>(r.events, 'frame', (f) => f[0] === T.RES && f.readUInt32BE(3) === req);
  r.ch.write(encodeReq(req, op, payload));
  const [f] = await res;
  return { code: CODES[f[7]], text: f.subarray(8).toString('utf8') };
}

test('a flood of 300 silent connections from one address does not keep other peers from registering', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const f = await flood(t, m.address.port, '127.0.0.2', 300, m.address.host);
  // Six peers from another address handshake and register (HELLO) while the flood goes on.
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, async () => {
      const ch = await dialFrom(m.address.port, m.address.pk, '127.0.0.3', m.address.host);
      t.after(() => ch.destroy());
      const got = once(ch, 'data');
      ch.write(encodeReq(1, OP.HELLO, jsonBuf({ version: 1 })));
      const [res] = (await got) as [Buffer];
      return { type: res[0], code: res[7] };
    }),
  );
  f.stop();
  const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  assert.deepEqual(failed, [], 'every legitimate handshake completes during the flood');
  for (const r of results) assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, { type: T.RES, code: 0 });
  assert.equal(m.proc.exitCode, null);
});

test('JSON of the wrong shape in HELLO, ANNOUNCE and QUERY is refused with bad_request; the messenger serves on', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const r = await raw(t, m.address);
  const shapes = ['null', '[]', '1', '"x"', 'true'];
  const wrongFields: Array<[number, string]> = [
    [OP.HELLO, '{"version":"1"}'],
    [OP.HELLO, '{"version":1,"addresses":"127.0.0.1:1"}'],
    [OP.HELLO, '{"version":1,"services":[null]}'],
    [OP.ANNOUNCE, '{"services":[{"name":5,"port":1}]}'],
    [OP.ANNOUNCE, '{"services":[{"name":"a","port":"1"}]}'],
    [OP.ANNOUNCE, '{"services":[{"name":"a","port":1,"attrs":[]}]}'],
    [OP.ANNOUNCE, '{"addresses":[{}]}'],
    [OP.QUERY, '{"service":[]}'],
    [OP.QUERY, '{"attr":"x"}'],
    [OP.QUERY, '{"attr":{"key":1,"value":"v"}}'],
    [OP.QUERY, '{"limit":"5"}'],
    [OP.QUERY, '{"offset":-1}'],
  ];
  let req = 1;
  for (const op of [OP.HELLO, OP.ANNOUNCE, OP.QUERY]) {
    for (const json of shapes) {
      const res = await ask(r, req++, op, Buffer.from(json));
      assert.equal(res.code, 'bad_request', `op ${op} with ${json}: ${res.text}`);
      assert.match(res.text, /expected object/);
    }
  }
  for (const [op, json] of wrongFields) {
    const res = await ask(r, req++, op, Buffer.from(json));
    assert.equal(res.code, 'bad_request', `op ${op} with ${json}`);
  }
  // `{}` is a valid ANNOUNCE and QUERY (every field is optional), but not a HELLO (it needs the version).
  assert.equal((await ask(r, req++, OP.ANNOUNCE, Buffer.from('{}'))).code, 'ok');
  assert.equal((await ask(r, req++, OP.QUERY, Buffer.from('{}'))).code, 'ok');
  assert.match((await ask(r, req++, OP.HELLO, Buffer.from('{}'))).text, /^version: /);
  // The same connection, and a new client, are served afterwards.
  assert.equal((await ask(r, req, OP.HELLO, jsonBuf({ version: 1 }))).code, 'ok');
  const c = await client(t, [m.address]);
  assert.equal((await c.lookup(c.pkHex))?.pk, c.pkHex);
  assert.equal(m.proc.exitCode, null);
});

test('the messenger closes a connection silent for --idle-timeout; a client sending keepalives stays', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json'), args: ['--idle-timeout', '1000'] });
  const live = await client(t, [m.address], { keepaliveMs: 200 });
  let dropped = false;
  live.on('disconnected', () => (dropped = true));
  const silent = await raw(t, m.address);
  assert.equal(await silent.goaway(), 'timeout');
  assert.equal(dropped, false, 'the client that was connected longer, but pings, is still connected');
  assert.deepEqual(live.connectedMessengers(), [m.address.pk.toString('hex')]);
});

test('a client reconnects when its messenger goes silent for three keepalive intervals', async (t) => {
  const m = await startMessenger(t, { key: join(tempDir(t), 'm.json') });
  const c = await client(t, [m.address], { keepaliveMs: 150 });
  // A stopped process keeps its TCP connections open but answers nothing: only the keepalive can notice.
  const down = nextEvent(c, 'disconnected');
  process.kill(m.proc.pid!, 'SIGSTOP');
  t.after(() => {
    if (m.proc.exitCode === null) process.kill(m.proc.pid!, 'SIGCONT');
  });
  await down;
  const up = nextEvent(c, 'connected');
  process.kill(m.proc.pid!, 'SIGCONT');
  await up;
  assert.equal((await c.lookup(c.pkHex))?.pk, c.pkHex);
});

test('a handshake that stalls after act 1 is closed at handshakeTimeoutMs', async (t) => {
  const server = new MessengerServer({ key: generateKeyPair(), handshakeTimeoutMs: 300 });
  const addr = await server.listen();
  t.after(() => server.close());
  const s = connect(addr.port, addr.host);
  t.after(() => s.destroy());
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(new Handshake('initiator', generateKeyPair(), { remotePublicKey: server.publicKey, prologue: 'skywire' }).act1());
  let got = 0;
  s.on('data', (d: Buffer) => (got += d.length));
  await once(s, 'close');
  assert.equal(got, 50, 'act 2, then the messenger hung up');
  assert.equal(server.stats().connections, 0);
});

/** A messenger that registers anyone and answers LOOKUP and QUERY with whatever `answer` holds (JSON text). */
async function lyingMessenger(t: { after(fn: () => unknown): void }) {
  const key = generateKeyPair();
  const state = { answer: 'null' };
  const l = await listenSecure({ localKey: key }, (ch) => {
    const reader = new FrameReader();
    ch.on('error', () => {});
    ch.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (Array.isArray(f)) continue;
        if (f[0] === T.PING) ch.write(encodePing(T.PONG, f.subarray(3)));
        if (f[0] !== T.REQ) continue;
        const req = f.readUInt32BE(3);
        const hello = f[7] === OP.HELLO;
        ch.write(encodeRes(req, 0, hello ? jsonBuf({ version: 1, limits: {} }) : Buffer.from(state.answer)));
      }
    });
  });
  t.after(() => l.close());
  return { address: { pk: key.publicKey, ...l.address() }, state };
}

test('the client checks the shape of lookup and query answers: a lying messenger gives protocol_error, not junk', async (t) => {
  const m = await lyingMessenger(t);
  const c = await client(t, [m.address]);
  const other = generateKeyPair().publicKey.toString('hex');
  const entry = (o: Record<string, unknown> = {}) => JSON.stringify({ pk: c.pkHex, addresses: [], services: [], lastSeen: 1, ...o });
  const badLookups = [
    '[]',
    '1',
    '"x"',
    'true',
    '{}',
    entry({ pk: 'zz' }),
    entry({ pk: other }), // an entry for another key than the one asked for
    entry({ addresses: '127.0.0.1:1' }),
    entry({ addresses: [5] }),
    entry({ services: [{ name: 1, port: 1 }] }),
    entry({ services: [null] }),
    entry({ lastSeen: '1' }),
  ];
  for (const a of badLookups) {
    m.state.answer = a;
    await assert.rejects(c.lookup(c.pkHex), (e: unknown) => (e as MessengerError).code === 'protocol_error' && /answered a lookup/.test((e as Error).message), a);
  }
  const badQueries = ['null', '[]', '1', '"x"', '{}', '{"entries":5,"total":1}', '{"entries":[],"total":"1"}', '{"entries":[null],"total":1}', `{"entries":[${entry({ lastSeen: null })}],"total":1}`];
  for (const a of badQueries) {
    m.state.answer = a;
    await assert.rejects(c.query({}), (e: unknown) => (e as MessengerError).code === 'protocol_error' && /answered a query/.test((e as Error).message), a);
  }
  // Well-formed answers still work on the same client.
  m.state.answer = 'null';
  assert.equal(await c.lookup(other), null);
  m.state.answer = entry({ addresses: ['127.0.0.1:9'], services: [{ name: 'chat', port: 3 }] });
  assert.deepEqual((await c.lookup(c.pkHex))?.services, [{ name: 'chat', port: 3 }]);
  m.state.answer = `{"entries":[${entry()}],"total":1}`;
  assert.equal((await c.query({})).total, 1);
});
