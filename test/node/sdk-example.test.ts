// The SDK as a product: examples/sdk-echo, copied to a folder outside the repository and given the package
// the way its README says (`npm install <checkout>`, without the registry), imports `skywire-viscript/sdk`
// and serves a real node: an app on another node dials it and gets its bytes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { AppClient } from '../../src/node/sdk/index.js';
import { dialRetry, roundTrip, testCluster, waitTransports } from './harness.js';

/** The checkout: the folder above dist/ that holds package.json and examples/. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('examples/sdk-echo works copied outside the repo with the package installed from the checkout', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sdk-echo-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.ok(relative(root, dir).startsWith('..'), 'the copy is outside the repository');
  cpSync(join(root, 'examples', 'sdk-echo'), dir, { recursive: true });
  await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--offline', root], { cwd: dir, timeout: 60_000 });

  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  await waitTransports(b, [a.pk]);
  const echo = spawn(process.execPath, ['echo.mjs', '7'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SKYWIRE_APP_API_FILE: b.apiFile },
  });
  t.after(() => void echo.kill('SIGKILL'));
  let stderr = '';
  echo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: echo.stdout });
  const [first] = await Promise.race([
    once(lines, 'line') as Promise<string[]>,
    once(echo, 'exit').then(([code]) => assert.fail(`the example exited with ${code}: ${stderr}`)),
  ]);
  assert.equal(first, `echoing on ${b.pk} port 7`);

  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  assert.deepEqual(await client.query('echo'), [{ pk: b.pk, port: 7 }]);
  const data = Buffer.from('through the example app');
  assert.equal((await roundTrip(await dialRetry(client, b.pk, 7), data)).toString(), data.toString());
});
