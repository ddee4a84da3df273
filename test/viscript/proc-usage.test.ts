// The per-app CPU % and memory behind `la` and `ru`, read from /proc with real processes: the whole tree
// (children, grandchildren), the CPU of a busy child, memory summed, exited pids left out, and the same tree
// whichever way it is found (children files, or a scan of /proc on kernels without them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { descendantsByScan, ProcUsage, processTree } from '../../src/viscript/proc-usage.js';
import { goneWithin } from './helpers.js';

// A child that spins, a child with a child of its own, and the shell itself: 4 pids, printed once all run.
const TREE = `
node -e 'for (;;) {}' &
echo "pid $!"
sh -c 'sleep 1000 & echo "pid $!"; wait' &
echo "pid $!"
echo "pid $$"
wait
`;

async function startTree(t: { after(fn: () => void): void }): Promise<{ root: number; pids: number[] }> {
  const child = spawn('/bin/sh', ['-c', TREE], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const pids: number[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    pids.push(Number(/^pid (\d+)$/.exec(line)![1]));
    if (pids.length === 4) break;
  }
  return { root: child.pid!, pids: pids.sort((a, b) => a - b) };
}

test('the tree of an app holds its children and grandchildren, found alike by children files and by a /proc scan', { skip: process.platform !== 'linux' && 'no /proc' }, async (t) => {
  const { root, pids } = await startTree(t);
  assert.deepEqual(processTree(root).sort((a, b) => a - b), pids);
  assert.deepEqual([root, ...descendantsByScan(root)].sort((a, b) => a - b), pids);
});

test('a sample sums the memory of every process, counts a busy child\'s CPU, and leaves out what exited', { skip: process.platform !== 'linux' && 'no /proc' }, async (t) => {
  const { root, pids } = await startTree(t);
  const usage = new ProcUsage();
  // Poll (bounded): the spinning child needs a few 10 ms ticks of CPU before any figure shows it.
  const deadline = Date.now() + 10_000;
  let first = usage.sample(processTree(root));
  while (first.cpu === 0 && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    usage.clear();
    first = usage.sample(processTree(root));
  }
  assert.deepEqual(first.pids, pids);
  assert.ok(first.cpu > 0, `a spinning child shows CPU: ${first.cpu}`);
  // Every process holds at least a few hundred kB; node alone holds MBs.
  assert.ok(first.rss > 4 * 1024 * 1024, `memory of the four summed: ${first.rss}`);
  const alone = new ProcUsage().sample([root]);
  assert.ok(first.rss > alone.rss, 'the tree holds more than the shell alone');

  const spinner = pids.find((p) => p !== root && processTree(p).length === 1 && spawnedNode(p))!;
  process.kill(spinner, 'SIGKILL');
  assert.equal(await goneWithin(spinner), true);
  const after = usage.sample([...pids]);
  assert.equal(after.pids.includes(spinner), false, 'an exited pid is left out');
  assert.equal(after.pids.length, pids.length - 1);
});

test('within a second of the last sample a pid answers its previous CPU %, not a figure from a few ticks', { skip: process.platform !== 'linux' && 'no /proc' }, async (t) => {
  const { root } = await startTree(t);
  const usage = new ProcUsage();
  const tree = processTree(root);
  const a = usage.sample(tree);
  const b = usage.sample(tree);
  assert.equal(b.cpu, a.cpu);
});

function spawnedNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node';
  } catch {
    return false;
  }
}
