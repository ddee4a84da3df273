// Stopping an app stops everything it started, whatever that did: children, grandchildren, and a daemon
// that left the app's process group and session with setsid and lost its parent. With cgroup v2 (Linux)
// `sd`, Viscript's SIGTERM and, after a SIGKILL of Viscript, the next start on the same state dir all reach
// every one of them; without it, the process group is what they reach. Asserted by pid liveness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goneWithin, isAlive, startViscript, tempDir, writeConfig, type Msg, type ViscriptProcess } from './helpers.js';

// Two children (one with a child of its own), a setsid'd daemon whose parent exits at once, and itself.
const FORKER = `#!/bin/sh
sleep 1000 &
echo "pid $!"
sh -c 'sleep 1000 & echo "pid $!"; wait' &
echo "pid $!"
setsid sh -c 'sleep 1000 & echo "pid $!"' &
echo "pid $$"
wait
`;
const PIDS = 5; // sleep, sh and its sleep, the setsid'd sleep, the app itself

function setUp(t: { after(fn: () => void): void }): { dir: string; config: string } {
  const dir = tempDir(t);
  const script = join(dir, 'forker.sh');
  writeFileSync(script, FORKER);
  chmodSync(script, 0o755);
  return { dir, config: writeConfig(dir, `apps:\n  forker:\n    path: ./forker.sh\nsettings:\n  shutdownGraceMs: 500\n`) };
}

/** Starts the forker and resolves with every pid it printed (all five are running by then). */
async function startForker(v: ViscriptProcess): Promise<{ id: number; appPid: number; pids: number[] }> {
  const r = await v.run('s forker');
  const { id, pid: appPid } = r.data as { id: number; pid: number };
  const from = v.messages.length;
  const follow = await v.run(`logs ${id} -n 100 -f`);
  const pids = new Set<number>();
  const take = (text: string) => {
    const m = /^pid (\d+)$/.exec(text);
    if (m) pids.add(Number(m[1]));
  };
  for (const l of (follow.data as { lines?: Array<{ text: string }> }).lines ?? []) take(l.text);
  let seen = from;
  while (pids.size < PIDS) {
    const m: Msg = await v.waitFor((x) => x.type === 'output' && x.id === id, seen);
    seen = v.messages.indexOf(m) + 1;
    for (const line of String(m.text).split('\n')) take(line);
  }
  await v.run('\x1a');
  return { id, appPid, pids: [...pids] };
}

async function survivors(pids: number[]): Promise<number[]> {
  const left: number[] = [];
  for (const pid of pids) if (!(await goneWithin(pid))) left.push(pid);
  return left;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
}

test('sd and SIGTERM to Viscript stop every process an app started, setsid daemons included (cgroup v2)', async (t) => {
  const { config } = setUp(t);
  const v = startViscript(['--config', config]);
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  if (ready.containment !== 'cgroup') return t.skip(`no usable cgroup v2 here (containment: ${String(ready.containment)})`);

  const first = await startForker(v);
  t.after(() => killAll(first.pids));
  for (const pid of first.pids) assert.equal(isAlive(pid), true);
  const sd = await v.run(`sd ${first.id}`);
  assert.equal(sd.ok, true, String(sd.text));
  assert.deepEqual(await survivors(first.pids), [], 'sd leaves nothing running');

  const second = await startForker(v);
  t.after(() => killAll(second.pids));
  v.child.kill('SIGTERM');
  assert.equal((await v.exited).code, 0);
  assert.deepEqual(await survivors(second.pids), [], "nothing outlives Viscript's SIGTERM");
});

test('after Viscript is SIGKILLed, the next start on the same state dir stops what its apps left running', async (t) => {
  for (const mode of ['cgroup', 'process-group'] as const) {
    const { config } = setUp(t);
    const env = mode === 'process-group' ? { VISCRIPT_CGROUPS: 'off' } : {};
    const v = startViscript(['--config', config], { env });
    t.after(() => v.kill());
    const ready = await v.waitFor((m) => m.type === 'ready');
    if (ready.containment !== mode) {
      t.diagnostic(`${mode}: not available here (containment: ${String(ready.containment)})`);
      continue;
    }
    const { pids, appPid } = await startForker(v);
    t.after(() => killAll(pids));
    const inGroup = pids.filter((p) => pgidOf(p) === appPid);
    assert.equal(inGroup.length, PIDS - 1, 'all but the setsid daemon are in the app process group');
    v.child.kill('SIGKILL');
    await v.exited;
    for (const pid of pids) assert.equal(isAlive(pid), true, `${mode}: a SIGKILLed Viscript cannot stop anything itself`);

    const next = startViscript(['--config', config], { env });
    t.after(() => next.kill());
    await next.waitFor((m) => m.type === 'ready');
    // The process group holds all but the setsid'd daemon; a cgroup holds that one too.
    const expectGone = mode === 'cgroup' ? pids : inGroup;
    assert.deepEqual(await survivors(expectGone), [], `${mode}: the next start stopped the leftovers`);
    next.child.kill('SIGTERM');
    assert.equal((await next.exited).code, 0);
  }
});

/** The process group of `pid`, from /proc. */
function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

test('a damaged or foreign run.json is ignored: Viscript starts and kills nothing it did not start', async (t) => {
  const { dir, config } = setUp(t);
  // A process of this user, in its own group, that no Viscript started.
  const bystander = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  t.after(() => bystander.kill('SIGKILL'));
  const pid = bystander.pid!;
  const state = join(dir, '.viscript');
  mkdirSync(state, { recursive: true });
  const records = [
    'null', '[]', '1', '"x"', '{}', '{"pid":"1","groups":[]}', '{"pid":1,"groups":null}',
    // A cgroup not named like a Viscript run: never killed from a record.
    JSON.stringify({ pid: 999_999, groups: [], cgroup: '/sys/fs/cgroup' }),
    JSON.stringify({ pid: 999_999, groups: [], cgroup: '/sys/fs/cgroup/unified' }),
    // A recorded group whose leader's start time does not match: a reused pid, not ours.
    JSON.stringify({ pid: 999_999, groups: [{ id: 2, pgid: pid, start: '1' }] }),
  ];
  for (const record of records) {
    writeFileSync(join(state, 'run.json'), record);
    const v = startViscript(['--config', config]);
    t.after(() => v.kill());
    await v.waitFor((m) => m.type === 'ready');
    assert.equal(isAlive(pid), true, `${record}: the bystander is alive`);
    v.child.kill('SIGTERM');
    assert.equal((await v.exited).code, 0, record);
  }
});
