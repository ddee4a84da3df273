// Who may register: the token Viscript handed out, or (2017 clients) no token, from loopback, when allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { SignalServer, SignalClient, type ProtocolErrorInfo, type SignalClientInfo } from '../../src/signal/index.js';
import { closed, nextEvent, rawConnect, regFrame } from './helpers.js';

async function serve(t: { after(fn: () => unknown): void }, opts: ConstructorParameters<typeof SignalServer>[0] = {}) {
  const server = new SignalServer({ port: 0, ...opts });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
}

test('an expected id must present its token: missing or wrong tokens close the connection with a reason', async (t) => {
  const { server, port } = await serve(t, { allowUntokened: true });
  server.expect(7, 'secret-7');
  const cases: Array<[string, RegExp]> = [
    ['{"Id":7}', /id 7 carries no token/],
    ['{"Id":7,"Token":"secret-8"}', /id 7 carries a wrong token/],
    ['{"Id":7,"Token":"secret-7x"}', /wrong token/],
    ['{"Id":7,"Token":7}', /carries no token/],
  ];
  for (const [json, reason] of cases) {
    const s = await rawConnect(t, port);
    const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
    s.write(regFrame(json));
    assert.match((await err).reason, reason);
    await closed(s);
    assert.equal(server.isRegistered(7), false);
  }
  const s = await rawConnect(t, port);
  const ok = nextEvent<SignalClientInfo>(server, 'register');
  s.write(regFrame('{"Id":7,"Token":"secret-7","Pid":1234,"Name":"app"}'));
  const info = await ok;
  assert.deepEqual([info.id, info.pid, info.name], [7, 1234, 'app']);
});

test('without allowUntokened, an untokened or unexpected REG is refused', async (t) => {
  const { server, port } = await serve(t);
  for (const json of ['{"Id":2}', '{"Id":2,"Token":"guess"}']) {
    const s = await rawConnect(t, port);
    const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
    s.write(regFrame(json));
    assert.match((await err).reason, /no such id is expected/);
    await closed(s);
  }
  assert.deepEqual(server.clients(), []);
});

test('malformed REG bodies are refused with the reason', async (t) => {
  const { server, port } = await serve(t, { allowUntokened: true });
  for (const [json, reason] of [
    ['[5]', /not an object/],
    ['{"Id":-1}', /invalid Id -1/],
    ['{"Id":"5"}', /invalid Id "5"/],
    ['{"Id":1.5}', /invalid Id 1.5/],
    ['{oops', /not JSON/],
  ] as const) {
    const s = await rawConnect(t, port);
    const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
    s.write(regFrame(json));
    assert.match((await err).reason, reason);
    await closed(s);
  }
});

test('a SignalClient with the right token registers; with a wrong one it retries with growing delays', async (t) => {
  const { server, port } = await serve(t);
  server.expect(11, 'good');
  const good = new SignalClient({ address: `127.0.0.1:${port}`, id: 11, token: 'good', onShutdown: () => {} });
  t.after(() => good.stop());
  const registered = nextEvent<SignalClientInfo>(server, 'register');
  good.start();
  assert.equal((await registered).id, 11);

  server.expect(12, 'right');
  const bad = new SignalClient({ address: `127.0.0.1:${port}`, id: 12, token: 'wrong', onShutdown: () => {} });
  t.after(() => bad.stop());
  // Each refusal is followed by a retry scheduled later than the one before: backoff, not a busy loop.
  const retries: Array<{ attempt: number; delayMs: number }> = [];
  let refusals = 0;
  const threeRetries = new Promise<void>((resolve) => {
    bad.on('retry', (r: { attempt: number; delayMs: number }) => {
      retries.push(r);
      if (retries.length === 3) resolve();
    });
  });
  server.on('protocolError', (e: ProtocolErrorInfo) => {
    if (/id 12 carries a wrong token/.test(e.reason)) refusals++;
  });
  bad.start();
  await threeRetries;
  await bad.stop();
  assert.ok(refusals >= 3, `${refusals} refusals`);
  assert.deepEqual(retries.map((r) => r.attempt), [1, 2, 3]);
  // 100, 200, 400 ms, each +-20%.
  const [d1, d2, d3] = retries.map((r) => r.delayMs);
  assert.ok(d1 >= 80 && d2 >= 160 && d3 >= 320 && d2 > d1 && d3 > d2, `delays ${d1}, ${d2}, ${d3}`);
  assert.ok(server.isRegistered(11), 'the good client was not disturbed');
  assert.ok((await server.ping(11)) >= 0);
});

test('with allowUntokened, a 2017-style REG without token is accepted from loopback but an expected id still needs its token', async (t) => {
  const { server, port } = await serve(t, { allowUntokened: true });
  const s = await rawConnect(t, port);
  const ok = nextEvent<SignalClientInfo>(server, 'register');
  s.write(regFrame('{"Id":9}'));
  assert.equal((await ok).id, 9);

  server.expect(10, 'x');
  const s2 = await rawConnect(t, port);
  const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
  s2.write(regFrame('{"Id":10}'));
  assert.match((await err).reason, /no token/);
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

test('untokened REGs from a non-loopback address are refused even with allowUntokened', { skip: !external && 'no non-loopback IPv4 address' }, async (t) => {
  const { server, port } = await serve(t, { allowUntokened: true, host: '0.0.0.0' });
  server.expect(3, 'tok');
  const s = await rawConnect(t, port, external!);
  const err = nextEvent<ProtocolErrorInfo>(server, 'protocolError');
  s.write(regFrame('{"Id":5}'));
  assert.match((await err).reason, /only from loopback/);
  await closed(s);
  // A token works from anywhere.
  const s2 = await rawConnect(t, port, external!);
  const ok = nextEvent<SignalClientInfo>(server, 'register');
  s2.write(regFrame('{"Id":3,"Token":"tok"}'));
  assert.equal((await ok).id, 3);
});
