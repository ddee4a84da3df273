// Output draining, log rotation and the restart policy, with real files and real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { LineBuffer, RotatingLog } from '../../src/viscript/app-output.js';
import { parseConfig } from '../../src/viscript/config.js';
import { Engine } from '../../src/viscript/engine.js';
import { RestartPlanner } from '../../src/viscript/restart-policy.js';
import type { AppInfo } from '../../src/viscript/supervisor.js';
import { FIXTURE_APP, goneWithin, isAlive, tempDir } from './helpers.js';

test('the line buffer keeps the last lines, splits chunks at newlines and completes a partial line on flush', () => {
  const b = new LineBuffer(3);
  b.push('stdout', 'one\ntw');
  b.push('stderr', 'err\n');
  b.push('stdout', 'o\r\nthree\nfour');
  assert.deepEqual(b.tail(10).map((l) => [l.stream, l.text]), [['stderr', 'err'], ['stdout', 'two'], ['stdout', 'three']]);
  b.flush();
  assert.deepEqual(b.tail(2).map((l) => l.text), ['three', 'four']);
  assert.deepEqual(b.tail(0), []);
});

test('the log file rotates by size and keeps a bounded number of old files', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'logs', 'app.log');
  const log = new RotatingLog(path, 1024, 2);
  const line = 'x'.repeat(99) + '\n';
  for (let i = 0; i < 100; i++) log.write(line);
  await log.close();
  assert.ok(existsSync(`${path}.1`) && existsSync(`${path}.2`));
  assert.equal(existsSync(`${path}.3`), false, 'only `keep` old files');
  for (const f of [path, `${path}.1`, `${path}.2`]) assert.ok(statSync(f).size <= 1024, f);
  assert.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).every((l) => l === line.trim()), true, 'whole writes, never torn');
});

test('restart planner: quick failures in a row beyond startRetries are fatal; a longer run or reset() starts over', () => {
  const quick = { code: 2, signal: null, uptimeMs: 50 };
  const p = new RestartPlanner('on-failure', { initialMs: 1 }, { startRetries: 2, startTimeMs: 1000 });
  assert.equal(typeof p.afterExit(quick), 'number');
  assert.equal(typeof p.afterExit({ code: 2, signal: null, uptimeMs: 5000 }), 'number', 'a run that lasted counts as a start');
  assert.equal(typeof p.afterExit(quick), 'number');
  assert.equal(typeof p.afterExit(quick), 'number');
  assert.equal(p.afterExit(quick), 'fatal');
  p.reset();
  assert.equal(typeof p.afterExit(quick), 'number');
  const clean = new RestartPlanner('always', { initialMs: 1 }, { startRetries: 0, startTimeMs: 1000 });
  assert.equal(typeof clean.afterExit({ code: 0, signal: null, uptimeMs: 5 }), 'number', 'a clean exit is not a failure');
});

test('restart planner: policies, capped exponential delays, reset after a stable run', () => {
  const failed = { code: 1, signal: null, uptimeMs: 10 };
  const clean = { code: 0, signal: null, uptimeMs: 10 };
  assert.equal(new RestartPlanner('never').afterExit(failed), undefined);
  assert.equal(new RestartPlanner('on-failure').afterExit(clean), undefined);
  assert.notEqual(new RestartPlanner('on-failure').afterExit({ code: null, signal: 'SIGKILL', uptimeMs: 5 }), undefined);
  assert.notEqual(new RestartPlanner('always').afterExit(clean), undefined);
  const p = new RestartPlanner('always', { initialMs: 100, maxMs: 1000, stableMs: 5000 }, { startRetries: 100, startTimeMs: 0 });
  const delays = Array.from({ length: 7 }, () => p.afterExit(failed) as number);
  for (let i = 1; i < 4; i++) assert.ok(delays[i] > delays[i - 1] * 1.5, `grows: ${delays}`);
  assert.ok(delays.slice(4).every((d) => d <= 1100), `capped: ${delays}`);
  const afterStable = p.afterExit({ code: 1, signal: null, uptimeMs: 6000 }) as number;
  assert.ok(afterStable <= 110, `starts over after a stable run: ${afterStable}`);
});

async function engineWith(t: { after(fn: () => Promise<void>): void }, apps: string): Promise<Engine> {
  const dir = tempDir(t as never);
  const config = parseConfig(`apps:\n${apps}`, join(dir, 'config.yaml'));
  const engine = await Engine.create({
    config,
    stateDir: join(dir, 'state'),
    signalAddress: '127.0.0.1:0',
    restartTiming: { initialMs: 20, maxMs: 100, stableMs: 60_000 },
  });
  t.after(() => engine.close(200));
  return engine;
}

function app(name: string, args: string[], restart: string): string {
  return `  ${name}:\n    path: ${JSON.stringify(FIXTURE_APP)}\n    default_args: ${JSON.stringify(args)}\n    restart: ${restart}\n`;
}

function nextExit(engine: Engine, id: number): Promise<AppInfo> {
  return new Promise((resolve) => {
    const on = (info: AppInfo) => {
      if (info.id !== id) return;
      engine.off('exit', on);
      resolve(info);
    };
    engine.on('exit', on);
  });
}

test('always restarts even after a clean exit, keeping the id; on-failure leaves a clean exit alone', async (t) => {
  const engine = await engineWith(
    t,
    app('always', ['--no-signal', '--exit-after', '50', '0'], 'always') + app('onfail', ['--no-signal', '--exit-after', '50', '0'], 'on-failure'),
  );
  const a = await engine.supervisor.start('always');
  const pids = new Set([a.pid]);
  for (let i = 0; i < 2; i++) {
    const exit = await nextExit(engine, a.id);
    assert.equal(exit.state, 'restarting');
    await once(engine, 'state'); // starting
    const info = engine.supervisor.get(a.id);
    if (info.pid !== undefined) pids.add(info.pid);
  }
  const b = await engine.supervisor.start('onfail');
  const exit = await nextExit(engine, b.id);
  assert.equal(exit.state, 'exited');
  assert.equal(exit.exitCode, 0);
  assert.equal(engine.supervisor.get(b.id).restarts, 0);
  const stopped = await engine.supervisor.stop(a.id);
  assert.ok(['signal', 'SIGTERM', 'restart-cancelled'].includes(stopped.via), stopped.via);
  const list = engine.supervisor.list();
  assert.deepEqual(list.map((x) => x.id), [2, 3], 'a restart keeps its id');
  assert.ok(list[0].restarts >= 2);
  for (const pid of pids) assert.equal(isAlive(pid!), false);
});

test('when an app exits by itself, what it left in its process group is stopped too', async (t) => {
  const engine = await engineWith(t, app('parent', ['--no-signal', '--child', '--exit-after', '300', '0'], 'never'));
  const lines: string[] = [];
  engine.on('output', (_id: number, _s: string, _c: string, ls: Array<{ text: string }>) => lines.push(...ls.map((l) => l.text)));
  const info = await engine.supervisor.start('parent');
  const exit = await nextExit(engine, info.id);
  assert.equal(exit.exitCode, 0);
  const childLine = lines.find((l) => l.startsWith('child pid '));
  assert.ok(childLine, lines.join('|'));
  const childPid = Number(childLine.split(' ')[2]);
  assert.equal(await goneWithin(childPid), true);
});

test('a flood of output is drained into a bounded buffer and bounded log files, and stopping still works', async (t) => {
  const dir = tempDir(t as never);
  const config = parseConfig('apps:\n  flood:\n    path: yes\n    default_args: [flood]\nsettings:\n  logMaxBytes: 65536\n  logKeep: 1\n', join(dir, 'config.yaml'));
  const engine = await Engine.create({ config, stateDir: join(dir, 'state'), signalAddress: '127.0.0.1:0' });
  t.after(() => engine.close(200));
  let bytes = 0;
  let enough: () => void;
  const flowing = new Promise<void>((r) => (enough = r));
  engine.on('output', (_id: number, _s: string, chunk: string) => {
    bytes += chunk.length;
    if (bytes > 4 * 1024 * 1024) enough();
  });
  const info = await engine.supervisor.start('flood');
  await flowing;
  assert.equal(engine.supervisor.tail(info.id, 5000).length, 2000, 'the memory buffer is bounded');
  assert.deepEqual(engine.supervisor.tail(info.id, 1).map((l) => l.text), ['flood']);
  const stopped = await engine.supervisor.stop(info.id, 200);
  assert.equal(stopped.via, 'SIGTERM');
  const log = engine.supervisor.get(info.id).logFile;
  assert.ok(statSync(log).size <= 65536 && statSync(`${log}.1`).size <= 65536);
  assert.equal(existsSync(`${log}.2`), false);
});
