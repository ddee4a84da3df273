// Activation by environment (2017 variables plus SIGNAL_TOKEN), and the client's own view of a dead server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { signalOptionsFromEnv, SignalClient, SignalServer } from '../../src/signal/index.js';
import { nextEvent } from './helpers.js';

test('SIGNAL_CLIENT is on unless unset, empty or "false"; the other variables have 2017 defaults', () => {
  for (const off of [undefined, '', 'false', 'FALSE', '0']) assert.equal(signalOptionsFromEnv({ SIGNAL_CLIENT: off }), undefined, String(off));
  const opts = signalOptionsFromEnv({ SIGNAL_CLIENT: 'true' })!;
  assert.equal(opts.address, 'localhost:7999');
  assert.equal(opts.id, 1);
  assert.equal(opts.token, undefined);
  const full = signalOptionsFromEnv({ SIGNAL_CLIENT: 'yes', SIGNAL_SERVER_ADDRESS: '[::1]:9', SIGNAL_CLIENT_ID: '42', SIGNAL_TOKEN: 's3' })!;
  assert.deepEqual([full.address, full.id, full.token], ['[::1]:9', 42, 's3']);
});

test('bad SIGNAL_* values are named in a one-line error', () => {
  assert.throws(() => signalOptionsFromEnv({ SIGNAL_CLIENT: 'true', SIGNAL_CLIENT_ID: 'abc' }), /^Error: SIGNAL_CLIENT_ID "abc" is not a non-negative integer$/);
  assert.throws(() => new SignalClient({ address: 'nohost', id: 1 }), /"nohost" is not HOST:PORT/);
});

test('a client whose server goes silent reconnects after its idle timeout', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s)); // accepts, reads, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  // Its own PINGs (every 50 ms) must not count as activity: only what it reads does.
  const c = new SignalClient({ address: `127.0.0.1:${port}`, id: 1, idleTimeoutMs: 300, pingIntervalMs: 50, backoff: { initialMs: 10 }, onShutdown: () => {} });
  t.after(() => c.stop());
  let n = 0;
  const twice = nextEvent(silent, 'connection', () => ++n === 2);
  c.start();
  await twice;
});

test('stop() while the client is still connecting settles at once and never registers', async (t) => {
  const server = new SignalServer({ port: 0, allowUntokened: true });
  const { port } = await server.listen();
  t.after(() => server.close());
  let registered = false;
  server.on('register', (i: { id: number }) => (registered ||= i.id === 5));
  const c = new SignalClient({ address: `127.0.0.1:${port}`, id: 5, onShutdown: () => {} });
  c.start();
  await c.stop();
  // A second client registering proves the server has processed everything sent before it.
  const other = new SignalClient({ address: `127.0.0.1:${port}`, id: 6, onShutdown: () => {} });
  t.after(() => other.stop());
  const reg = nextEvent<{ id: number }>(server, 'register', (i) => i.id === 6);
  other.start();
  await reg;
  assert.equal(registered, false);
  assert.equal(server.isRegistered(5), false);
});
