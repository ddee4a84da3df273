// `skywire node transports add <a key nobody serves>`: a few quick tries, then one per long interval, and the
// state shows in `node status` and `transports ls`; `transports rm` ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { CLI, status, testCluster, waitFor } from './harness.js';

const run = promisify(execFile);

interface Pending {
  pk: string;
  state: string;
  failures: number;
  lastError: string;
  nextTryInMs?: number;
}

test('a transport to an unknown key is retried a bounded number of times, then backs off, and says so', async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const node = await c.node([], ['--retry-fast', '3', '--retry-slow', '600000']);
  const unknown = pkToHex(generateKeyPair().publicKey);
  const cli = (...args: string[]) => run(process.execPath, [CLI, 'node', ...args, '--api-file', node.apiFile]);

  await assert.rejects(cli('transports', 'add', unknown), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 1);
    assert.match(e.stderr.trim(), /^skywire node: node \w+.* is not registered with the messenger; retrying in the background \(1 failed, 3 quick tries, then one every 600 s\)/);
    return true;
  });
  // Two more quick tries fail (200 ms, then ~400 ms later), then the next is 10 minutes away.
  let p: Pending | undefined;
  await waitFor('the peer to back off', async () => {
    p = ((await status(node.apiFile)).pending as Pending[]).find((x) => x.pk === unknown);
    return p?.state === 'backing off';
  });
  assert.equal(p!.failures, 3);
  assert.match(p!.lastError, /not registered with the messenger/);
  assert.ok(p!.nextTryInMs! > 590_000, `next try in ${p!.nextTryInMs} ms`);

  const { stdout: st } = await cli('status');
  assert.match(st, new RegExp(`waiting for ${unknown}: backing off \\(3 failed, next try in 5\\d\\d\\.\\d s\\): .*not registered`));
  const { stdout: ls } = await cli('transports', 'ls');
  assert.match(ls, new RegExp(`waiting for ${unknown}: backing off`));

  // The operator removes it: no more tries, nothing pending.
  const { stdout: rm } = await cli('transports', 'rm', unknown);
  assert.match(rm, /removed/);
  assert.deepEqual((await status(node.apiFile)).pending, []);
});
