// A real server and real client programs in child processes, as Viscript runs apps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignalServer, type SignalClientInfo } from '../../src/signal/index.js';
import { exited, nextEvent, spawnFixture } from './helpers.js';

async function startServer(t: { after(fn: () => unknown): void }, opts = {}) {
  const server = new SignalServer({ port: 0, ...opts });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
}

test('an app started with SIGNAL_* registers, answers ping and top, and shuts down running its hooks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'signal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'hooks-ran');
  const { server, port } = await startServer(t);
  server.expect(7, 'per-run-secret');
  const registered = nextEvent<SignalClientInfo>(server, 'register');
  const child = spawnFixture(t, 'client-app.js', [], {
    SIGNAL_CLIENT: 'true',
    SIGNAL_SERVER_ADDRESS: `127.0.0.1:${port}`,
    SIGNAL_CLIENT_ID: '7',
    SIGNAL_TOKEN: 'per-run-secret',
    MARKER_FILE: marker,
  });
  const info = await registered;
  assert.equal(info.id, 7);
  assert.equal(info.pid, child.pid);
  assert.equal(info.name, 'client-app.js');
  assert.ok(server.isRegistered(7));
  assert.deepEqual(server.clients().map((c) => c.id), [7]);

  const rtt = await server.ping(7);
  assert.ok(rtt > 0 && rtt < 1000, `ping round trip ${rtt} ms`);

  const usage = await server.top(7);
  assert.equal(usage.pid, child.pid);
  for (const k of ['rss', 'heapTotal', 'heapUsed', 'external', 'cpuUserUs', 'cpuSystemUs', 'uptimeS']) {
    assert.equal(typeof usage[k], 'number', k);
  }
  assert.ok((usage.rss as number) > 1_000_000);

  const unregistered = nextEvent<SignalClientInfo>(server, 'unregister');
  assert.deepEqual(await server.shutdown(7), { Pid: child.pid });
  assert.deepEqual(await exited(child), { code: 0, signal: null });
  assert.equal((await unregistered).id, 7);
  assert.match(readFileSync(marker, 'utf8'), new RegExp(`hooks ran in ${child.pid}`));
  assert.equal(server.isRegistered(7), false);
  await assert.rejects(server.ping(7), { code: 'not_registered' });
});

test('the signal client alone does not keep a finished program alive', async (t) => {
  const { server, port } = await startServer(t, { allowUntokened: true });
  const registered = nextEvent(server, 'register');
  const child = spawnFixture(t, 'client-app.js', [], {
    SIGNAL_CLIENT: '1',
    SIGNAL_SERVER_ADDRESS: `localhost:${port}`,
    SIGNAL_CLIENT_ID: '3',
    APP_MODE: 'brief',
  });
  await registered;
  assert.deepEqual(await exited(child), { code: 0, signal: null });
});

test('SIGTERM runs the same shutdown hooks (auto installs the handlers)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'signal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'hooks-ran');
  const { server, port } = await startServer(t, { allowUntokened: true });
  const registered = nextEvent(server, 'register');
  const child = spawnFixture(t, 'client-app.js', [], {
    SIGNAL_CLIENT: 'true',
    SIGNAL_SERVER_ADDRESS: `127.0.0.1:${port}`,
    MARKER_FILE: marker,
  });
  assert.equal((await registered as SignalClientInfo).id, 1, 'SIGNAL_CLIENT_ID defaults to 1');
  child.kill('SIGTERM');
  assert.deepEqual(await exited(child), { code: 0, signal: null });
  assert.match(readFileSync(marker, 'utf8'), /hooks ran/);
});

test('with SIGNAL_CLIENT unset or "false" the app runs without a client', async (t) => {
  for (const value of [undefined, 'false']) {
    const child = spawnFixture(t, 'client-app.js', [], {
      SIGNAL_CLIENT: value,
      SIGNAL_SERVER_ADDRESS: '127.0.0.1:1',
      APP_MODE: 'brief',
    });
    const ready = await nextEvent<Buffer>(child.stdout!, 'data');
    assert.equal(ready.toString(), 'ready without client\n');
    child.kill('SIGTERM');
    const { code } = await exited(child);
    assert.equal(code, 0);
    assert.doesNotMatch((child as unknown as { stderrText: string }).stderrText, /signal/);
  }
});

test('after the server restarts, the client reconnects and registers again with the same id', async (t) => {
  const first = new SignalServer({ port: 0 });
  const { port } = await first.listen();
  t.after(() => first.close());
  first.expect(4, 'tok');
  const env = { SIGNAL_CLIENT: 'true', SIGNAL_SERVER_ADDRESS: `127.0.0.1:${port}`, SIGNAL_CLIENT_ID: '4', SIGNAL_TOKEN: 'tok' };
  const registered = nextEvent<SignalClientInfo>(first, 'register');
  const child = spawnFixture(t, 'client-app.js', [], env);
  assert.equal((await registered).pid, child.pid);
  await first.close();

  const second = new SignalServer({ port });
  t.after(() => second.close());
  second.expect(4, 'tok');
  const again = nextEvent<SignalClientInfo>(second, 'register');
  await second.listen();
  const info = await again;
  assert.equal(info.id, 4);
  assert.equal(info.pid, child.pid);
  assert.ok((await second.ping(4)) >= 0);
});

test('a program whose shutdown hooks hang still exits after the forced-exit delay', async (t) => {
  const { server, port } = await startServer(t, { allowUntokened: true });
  const registered = nextEvent(server, 'register');
  const child = spawnFixture(t, 'hung-app.js', [`127.0.0.1:${port}`, '6', '300']);
  await registered;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  assert.deepEqual(await server.shutdown(6), { Pid: child.pid });
  assert.deepEqual(await exited(child, 4000), { code: 0, signal: null }, 'well before the 5 s hook timeout');
  assert.equal(out, 'hook started\n', 'the hooks were started (and hung) before the forced exit');
});
