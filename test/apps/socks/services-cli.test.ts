// `skywire services [NAME]`: a user lists what is announced in a real messenger, as a real process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, pkToHex } from '../../../src/net/keys.js';
import { MessengerClient, MessengerServer } from '../../../src/messenger/index.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../../src/cli/skywire.js', import.meta.url));

test('skywire services lists announced services, filtered by name, as text and JSON', async (t) => {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const addr = `${pkToHex(server.publicKey)}@127.0.0.1:${port}`;
  const exitKey = generateKeyPair();
  const app = new MessengerClient({ localKey: exitKey, messengers: [{ pk: server.publicKey, host: '127.0.0.1', port }] });
  t.after(() => app.close());
  await app.start();
  await app.announce({ services: [{ name: 'socks', port: 1080, attrs: { exit: 'yes' } }, { name: 'chat', port: 7 }] });

  const json = await run(process.execPath, [cli, 'services', 'socks', '--messenger', addr, '--json']);
  assert.deepEqual(
    JSON.parse(json.stdout).map((r: { pk: string; service: string; port: number; attrs: object }) => [r.pk, r.service, r.port, r.attrs]),
    [[pkToHex(exitKey.publicKey), 'socks', 1080, { exit: 'yes' }]],
  );
  const all = await run(process.execPath, [cli, 'services', '--messenger', addr]);
  assert.match(all.stdout, /^SERVICE\s+PUBLIC KEY\s+PORT\s+ATTRS\nchat\s+[0-9a-f]{66}\s+7\s+-\nsocks\s+[0-9a-f]{66}\s+1080\s+exit=yes\n$/);
  const none = await run(process.execPath, [cli, 'services', 'vpn', '--messenger', addr]);
  assert.equal(none.stdout, 'no "vpn" service is announced\n');
});

test('skywire services: bad messenger address and unreachable messenger are one-line errors', async () => {
  await assert.rejects(run(process.execPath, [cli, 'services', '--messenger', 'nonsense']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /^skywire services: messenger address "nonsense" must be PK@HOST:PORT\n$/);
    return true;
  });
  const pk = pkToHex(generateKeyPair().publicKey);
  await assert.rejects(
    run(process.execPath, [cli, 'services', '--messenger', `${pk}@127.0.0.1:1`, '--timeout', '300']),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /^skywire services: connecting to the messenger timed out after 300 ms\n$/);
      return true;
    },
  );
});
