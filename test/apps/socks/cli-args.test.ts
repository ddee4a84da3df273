// Bad options of the socks commands are one-line errors with exit code 2, before anything starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../src/cli/skywire.js', import.meta.url));

async function fails(args: string[], code: number, re: RegExp, env: Record<string, string> = {}): Promise<void> {
  const options = { env: { ...process.env, SIGNAL_CLIENT: 'false', ...env } };
  await assert.rejects(run(process.execPath, [CLI, ...args], options), (err: {
    code: number;
    stderr: string;
  }) => {
    assert.equal(err.code, code, err.stderr);
    assert.match(err.stderr, re);
    assert.equal(err.stderr.trim().split('\n').length, 1, err.stderr);
    return true;
  });
}

test('socks-server and socks-client reject bad options with one clear line', async () => {
  await fails(['socks-server', '--allow', '10.0.0.0/40'], 2, /^skywire socks-server: --allow "10.0.0.0\/40": prefix must be 0-32$/m);
  await fails(['socks-server', '--clients', 'abc'], 2, /^skywire socks-server: .*public key/im);
  await fails(['socks-server', '--port', '70000'], 2, /--port "70000" must be an integer from 1 to 65535/);
  await fails(['socks-client', '--user', 'alice'], 2, /^skywire socks-client: --user and --pass go together$/m);
  await fails(['socks-client', '--server', 'nope:1:2'], 2, /--server "nope:1:2" must be auto, PK or PK:PORT/);
  await fails(['socks-client', '--listen', 'localhost'], 2, /^skywire socks-client: "localhost" is not HOST:PORT$/m);
  await fails(['socks-client', '--hops', 'x'], 2, /--hops "x" must be an integer/);
  // No node to talk to: after waiting for it (SKYWIRE_APP_WAIT_MS, default 15 s) a one-line error, exit code 1.
  const wait = { SKYWIRE_APP_WAIT_MS: '300' };
  await fails(
    ['socks-client', '--api', '127.0.0.1:1', '--token', 't'],
    1,
    /^skywire socks-client: the node API at 127.0.0.1:1 refused connections for 0.3 s: is the node running\?$/m,
    wait,
  );
  await fails(
    ['socks-server', '--api-file', '/nonexistent-skywire/c.api.json'],
    1,
    /^skywire socks-server: node API file \/nonexistent-skywire\/c.api.json did not appear within 0.3 s: is the node running, with this --api-file\?$/m,
    wait,
  );
  await fails(['socks-client', '--api', '127.0.0.1:1', '--token', 't'], 1, /^skywire socks-client: cannot reach the node API at 127.0.0.1:1/m, {
    SKYWIRE_APP_WAIT_MS: '0',
  });
});

test('a node API file that is null, an array or mistyped is a one-line error naming the file', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'socks-api-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'node.api.json');
  const cases: Array<[string, RegExp]> = [
    ['null', /node API file .*node\.api\.json is not a JSON object with "api" and "token"/],
    ['[]', /node API file .*node\.api\.json is not a JSON object with "api" and "token"/],
    ['"127.0.0.1:1"', /node API file .*node\.api\.json is not a JSON object with "api" and "token"/],
    ['{"api":5,"token":"t"}', /node API file .*node\.api\.json: "api" must be a string \(HOST:PORT\)/],
    ['{"api":"127.0.0.1:1","token":{"a":1}}', /node API file .*node\.api\.json: "token" must be a string/],
  ];
  for (const [body, re] of cases) {
    writeFileSync(file, body);
    for (const cmd of ['socks-server', 'socks-client']) {
      await fails([cmd, '--api-file', file, ...(cmd === 'socks-client' ? ['--listen', '127.0.0.1:0'] : [])], 1, re, { SKYWIRE_APP_WAIT_MS: '0' });
    }
  }
});
