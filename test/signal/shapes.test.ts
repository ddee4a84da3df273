// Every JSON body the signal server reads is checked for shape, not only syntax (issue 17): REG bodies and the
// answers to TOP and SHUTDOWN. A wrong shape closes only that connection (REG) or fails only that request
// (answers), and the server goes on serving a legitimate client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignalServer, SignalClient, SignalError, type ProtocolErrorInfo, type SignalClientInfo } from '../../src/signal/index.js';
import { FrameDecoder, RESPONSE_BIT, encodeNormal } from '../../src/signal/frames.js';
import { closed, nextEvent, rawConnect, regFrame } from './helpers.js';

async function serve(t: { after(fn: () => unknown): void }) {
  const server = new SignalServer({ port: 0, allowUntokened: true, requestTimeoutMs: 2000 });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
}

/** A legitimate client registers and answers a ping: the server is still fine. */
async function stillServes(t: { after(fn: () => unknown): void }, server: SignalServer, port: number, id: number) {
  const c = new SignalClient({ address: `127.0.0.1:${port}`, id, onShutdown: () => {} });
  t.after(() => c.stop());
  const reg = nextEvent<SignalClientInfo>(server, 'register', (i) => i.id === id);
  c.start();
  await reg;
  assert.ok((await server.ping(id)) >= 0);
  await c.stop();
}

test('REG bodies of the wrong shape close only that connection, with a reason naming what is wrong', async (t) => {
  const { server, port } = await serve(t);
  const cases: Array<[string, RegExp]> = [
    ['null', /REG body null is not an object/],
    ['[]', /REG body \[\] is not an object/],
    ['1', /REG body 1 is not an object/],
    ['"x"', /REG body "x" is not an object/],
    ['true', /REG body true is not an object/],
    ['', /REG body null is not an object/], // no JSON at all after the op byte reads as null, as in Go
    ['{}', /invalid Id undefined/],
    ['{"Id":"x"}', /invalid Id "x"/],
    ['{"Id":null}', /invalid Id null/],
    ['{"Id":[4]}', /invalid Id \[4\]/],
    ['{"Id":{"n":4}}', /invalid Id \{"n":4\}/],
    ['{"Id":1e300}', /invalid Id 1e\+300/],
  ];
  let id = 100;
  for (const [json, reason] of cases) {
    const s = await rawConnect(t, port);
    const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
    s.write(regFrame(json));
    assert.match((await err).reason, reason, json);
    await closed(s);
    await stillServes(t, server, port, id++);
  }
  assert.deepEqual(server.clients(), []);
});

test('optional REG fields of the wrong type are ignored, not stored', async (t) => {
  const { server, port } = await serve(t);
  const s = await rawConnect(t, port);
  const reg = nextEvent<SignalClientInfo>(server, 'register');
  s.write(regFrame('{"Id":5,"Pid":"1234","Name":{"x":1}}'));
  const info = await reg;
  assert.equal(info.id, 5);
  assert.equal(info.pid, undefined);
  assert.equal(info.name, undefined);
});

test('answers of the wrong shape to TOP and SHUTDOWN fail that request with bad_response', async (t) => {
  const { server, port } = await serve(t);
  const s = await rawConnect(t, port);
  const reg = nextEvent<SignalClientInfo>(server, 'register');
  // A client that answers every request with `answer` (ACKs aside).
  let answer = 'null';
  let seq = 1;
  const decoder = new FrameDecoder();
  s.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.type !== 'normal' || f.body[0] & RESPONSE_BIT) continue;
      const reply = Buffer.concat([Buffer.from([f.body[0] | RESPONSE_BIT]), Buffer.from(answer)]);
      s.write(encodeNormal(++seq, reply));
    }
  });
  s.write(regFrame('{"Id":9}'));
  await reg;
  for (const a of ['null', '[]', '1', '"x"', 'true']) {
    answer = a;
    await assert.rejects(server.top(9), (e: unknown) => e instanceof SignalError && e.code === 'bad_response' && e.message.includes(a), a);
  }
  for (const a of ['null', '[]', '{}', '{"Pid":"7"}', '{"Pid":null}']) {
    answer = a;
    await assert.rejects(server.shutdown(9), (e: unknown) => e instanceof SignalError && e.code === 'bad_response' && /no Pid/.test(e.message), a);
  }
  answer = '{"Pid":77}';
  assert.deepEqual(await server.shutdown(9), { Pid: 77 });
  assert.ok(server.isRegistered(9), 'a bad answer fails the request, not the connection');
  await stillServes(t, server, port, 10);
});
