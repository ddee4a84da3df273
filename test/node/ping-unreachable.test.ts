// `skywire ping` to a node no route reaches prints why and exits non-zero instead of hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, testCluster } from './harness.js';

/** Runs the CLI to completion; kills it (and reports `timedOut`) if it is still running after `boundMs`. */
function runBounded(args: string[], boundMs: number): Promise<{ code: number | null; timedOut: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIGNAL_CLIENT: 'false' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, boundMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, stderr });
    });
  });
}

test('skywire ping to a node with no path prints the reason and exits non-zero (no hang)', async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const lonely = await c.node(); // registered, but no transport joins it to a
  const r = await runBounded(['ping', lonely.pk, '--api-file', a.apiFile, '-c', '1'], 10_000);
  assert.equal(r.timedOut, false, `ping still running after 10 s; stderr so far:\n${r.stderr}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /skywire ping: .*(no path|no route|not reachable|unreachable)/i);
});

test('skywire ping to a key nobody serves exits non-zero with the reason', async (t) => {
  const { c } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const r = await runBounded(['ping', '02' + 'ab'.repeat(32), '--api-file', a.apiFile, '-c', '1'], 10_000);
  assert.equal(r.timedOut, false, `ping still running after 10 s; stderr so far:\n${r.stderr}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /skywire ping: /);
});
