// The messengers the tests start do not outlive the test process, even when the runner kills a test file that
// overran --test-timeout (t.after does not run then): that is what used to leave `skywire.js messenger` running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dialSecure } from '../../src/net/tcp.js';
import { generateKeyPair } from '../../src/net/keys.js';
import { parseMessengerAddress } from '../../src/messenger/address.js';
import { FrameReader, T } from '../../src/messenger/protocol.js';

const OVERRUN = fileURLToPath(new URL('./fixtures/overrun.js', import.meta.url));

test('a test file killed for overrunning its timeout takes its messenger with it', async (t) => {
  // A runner of its own (without this runner's NODE_TEST_CONTEXT, which would make it report to us instead).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const runner = spawn(process.execPath, ['--test', '--test-timeout=5000', OVERRUN], { stdio: ['ignore', 'pipe', 'pipe'], env });
  t.after(() => runner.kill('SIGKILL'));
  let out = '';
  runner.stderr.resume();
  const started = new Promise<string>((resolve, reject) => {
    runner.once('exit', () => reject(new Error(`the fixture ended before its messenger started: ${out}`)));
    runner.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /messenger ([0-9a-f]{66}@[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  const exited = once(runner, 'exit');
  const address = parseMessengerAddress(await started);
  // A registered connection to it: it closes when the messenger process dies. The messenger would say
  // GOAWAY before closing it for any other reason (idle, shutdown); a SIGKILLed one cannot.
  const ch = await dialSecure(address.host, address.port, address.pk, { localKey: generateKeyPair() });
  t.after(() => ch.destroy());
  const types: number[] = [];
  const reader = new FrameReader();
  ch.on('data', (d: Buffer) => {
    for (const f of reader.push(d)) types.push(Array.isArray(f) ? f[0][0] : f[0]);
  });
  ch.on('error', () => {});
  const closed = once(ch, 'close');
  const [code] = (await exited) as [number | null];
  assert.notEqual(code, 0, `the fixture overran its timeout: ${out}`);
  assert.match(out, /cancelled 1|timed out|cancelled/i);
  await closed;
  assert.ok(!types.includes(T.GOAWAY), 'closed by the process dying, not by the messenger');
});
