// AppClient.connect against a node that is not up yet, and the 'close' event when the node goes away.
// Real node processes (test/node/harness.ts); the app side runs in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from './harness.js';
import { AppClient, AppApiError } from '../../src/node/sdk/index.js';

test('connect waits for the api file of a node started after the app, then registers', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  await c.startCore();
  const apiFile = join(c.dir, 'late', 'node.api.json'); // not even its directory exists yet
  const connecting = AppClient.connect({ apiFile, name: 'early', port: 7 });
  mkdirSync(join(c.dir, 'late'));
  const node = await c.node([], ['--api-file', apiFile]);
  const app = await connecting;
  assert.equal(app.localPk, node.pk);
  assert.equal(app.port, 7);
  await app.close();
});

test('connect gives up after waitMs with one line naming the missing api file', async () => {
  const apiFile = join('/nonexistent-skywire-dir', 'node.api.json');
  // The message names the file and the bound it waited for (the test's own timeout bounds the wait).
  await assert.rejects(AppClient.connect({ apiFile, name: 'x', waitMs: 400 }), (e: AppApiError) => {
    assert.equal(e.code, 'bad_config');
    assert.match(e.message, /node API file \/nonexistent-skywire-dir\/node\.api\.json did not appear within 0\.4 s/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  // waitMs 0: the old behaviour, at once (no waiting: the error says it could not read the file).
  await assert.rejects(AppClient.connect({ apiFile, name: 'x', waitMs: 0 }), /cannot read node API file/);
});

test('a stale api file (node gone, API refusing) is retried until a node writes it again', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  await c.startCore();
  const apiFile = join(c.dir, 'shared.api.json');
  const first = await c.node([], ['--api-file', apiFile]);
  await first.kill('SIGKILL'); // leaves its api file behind, naming a port nobody listens on

  // Within the bound: one line that says what was refused and for how long.
  await assert.rejects(AppClient.connect({ apiFile, name: 'x', waitMs: 300 }), (e: AppApiError) => {
    assert.equal(e.code, 'no_node');
    assert.match(e.message, /^the node API at 127\.0\.0\.1:\d+ refused connections for 0\.3 s: is the node running\?$/);
    return true;
  });

  const connecting = AppClient.connect({ apiFile, name: 'patient' });
  const second = await c.node([], ['--api-file', apiFile]);
  const app = await connecting;
  assert.equal(app.localPk, second.pk);
  await app.close();
});

test("'close' carries an error when the node goes away, and nothing after close()", async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  await c.startCore();
  const node = await c.node();
  const quiet = await AppClient.connect({ apiFile: node.apiFile, name: 'quiet' });
  const closedQuietly = once(quiet, 'close');
  await quiet.close();
  assert.deepEqual(await closedQuietly, []);

  const app = await AppClient.connect({ apiFile: node.apiFile, name: 'watcher' });
  const closed = once(app, 'close');
  await node.kill('SIGKILL');
  const [err] = (await closed) as [AppApiError];
  assert.ok(err instanceof AppApiError);
  assert.equal(err.code, 'closed');
  assert.match(err.message, /lost the connection to the node API at 127\.0\.0\.1:\d+/);
  await assert.rejects(app.query('socks'), (e: AppApiError) => e.code === 'closed');
});
