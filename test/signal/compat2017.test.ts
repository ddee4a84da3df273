// A client that speaks only the 2017 protocol still registers and answers ping, top and shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignalServer, type SignalClientInfo } from '../../src/signal/index.js';
import { exited, nextEvent, spawnFixture } from './helpers.js';

test('a 2017 client (no token, no pid, no keepalive) works against a server that allows untokened loopback clients', async (t) => {
  const server = new SignalServer({ port: 0, allowUntokened: true });
  const { port } = await server.listen();
  t.after(() => server.close());
  const registered = nextEvent<SignalClientInfo>(server, 'register');
  const child = spawnFixture(t, 'client-2017.js', ['127.0.0.1', String(port), '5']);
  const info = await registered;
  assert.equal(info.id, 5);
  assert.equal(info.pid, undefined, 'a 2017 REG carries no Pid');
  assert.ok((await server.ping(5)) >= 0);
  assert.equal(typeof (await server.top(5)).Alloc, 'number');
  assert.deepEqual(await server.shutdown(5), { Pid: child.pid });
  // Exit code 0 also means the server ACKed the client's REG, as 2017 clients expect.
  assert.deepEqual(await exited(child), { code: 0, signal: null });
});

test('the same 2017 client is refused when untokened clients are not allowed', async (t) => {
  const server = new SignalServer({ port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const refused = nextEvent<{ reason: string }>(server, 'protocolError');
  const child = spawnFixture(t, 'client-2017.js', ['127.0.0.1', String(port), '5']);
  assert.match((await refused).reason, /untokened clients are not allowed/);
  const { code } = await exited(child);
  assert.notEqual(code, 0);
});
