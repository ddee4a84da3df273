// What an operator used to pm2 or supervisord relies on, through the real `viscript` CLI and real apps:
// targets by name and `all`, giving up on a crash loop, forgetting dead entries, the `start` arguments rule,
// a readable `la`, finding the demo's Viscript, `reload`, and a per-app shutdown grace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readControlInfo, sendControlCommand, type ControlMessage } from '../../src/viscript/control.js';
import { FIXTURE_APP, runViscript, startViscript, tempDir, writeConfig, type Msg } from './helpers.js';

const app = (name: string, args: string[], extra = '') =>
  `  ${name}:\n    path: ${JSON.stringify(FIXTURE_APP)}\n    default_args: ${JSON.stringify(args)}\n${extra}`;

type Info = { id: number; name: string; state: string; restarts: number; args: string[]; error?: string; lastLines?: string[]; cpu?: number; rss?: number };

async function launch(t: { after(fn: () => unknown): void }, yaml: string, extraArgs: string[] = []) {
  const dir = tempDir(t);
  const file = writeConfig(dir, yaml);
  const v = startViscript(['--config', file, ...extraArgs]);
  t.after(() => v.kill());
  await v.waitFor((m) => m.type === 'ready');
  return { v, dir, file };
}

test('every id verb takes an app name (its only instance, or each one) and all; ids stay as they are', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(t, `apps:\n${app('alpha', ['--tick', '5000'])}${app('beta', ['--tick', '5000'])}settings:\n  shutdownGraceMs: 2000\n`);
  for (const line of ['s alpha', 's alpha', 's beta']) assert.equal((await v.run(line)).ok, true, line);
  await v.waitFor((m) => m.type === 'event' && m.event === 'registered' && m.id === 4);
  const ping = await v.run('ping beta');
  assert.equal(ping.ok, true, String(ping.text));
  assert.equal((ping.data as { id: number }).id, 4);
  const two = await v.run('ping alpha');
  assert.equal(two.ok, false);
  assert.match(String(two.text), /alpha has 2 instances \(ids 2, 3\): name one by its id/);
  assert.equal((await v.run('logs beta -n 5')).ok, true);
  assert.match(String((await v.run('ping nosuch')).text), /"nosuch" is neither an id nor an app name nor "all"/);
  assert.match(String((await v.run('ping 99')).text), /no app with id 99/);
  const sd = await v.run('sd alpha');
  assert.equal(sd.ok, true, String(sd.text));
  assert.deepEqual((sd.data as Info[]).map((i) => [i.id, i.state]), [[2, 'exited'], [3, 'exited']]);
  const restart = await v.run('restart all');
  assert.equal(restart.ok, true, String(restart.text));
  assert.deepEqual([(restart.data as Info).id], [4], 'all = what runs: beta only');
  const all = await v.run('sd all');
  assert.equal(all.ok, true, String(all.text));
  const la = (await v.run('la')).data as Info[];
  assert.deepEqual(la.map((i) => i.state), ['exited', 'exited', 'exited']);
  assert.match(String((await v.run('sd all')).text), /nothing to stop/);
});

test('an app failing right after each start goes fatal after startRetries, with its last lines; restart clears it', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(
    t,
    `apps:\n${app('crash', ['--no-signal', '--exit-after', '1', '2'], '    restart: on-failure\n')}settings:\n  startRetries: 1\n`,
  );
  const from = v.messages.length;
  await v.run('s crash');
  const fatal = await v.waitFor((m) => m.type === 'event' && m.event === 'fatal' && m.id === 2, from);
  assert.match(String(fatal.text), /exited with code 2; gave up after 2 failures in a row/);
  assert.match(String(fatal.text), /a line on stderr/, 'the last lines are shown');
  const la = await v.run('la');
  const entry = (la.data as Info[])[0];
  assert.equal(entry.state, 'fatal');
  assert.equal(entry.restarts, 1);
  assert.match(String(la.text), /fatal \(code 2\)/);
  const from2 = v.messages.length;
  const restart = await v.run('restart crash');
  assert.equal(restart.ok, true, String(restart.text));
  await v.waitFor((m) => m.type === 'event' && m.id === 2 && m.event === 'restarting', from2);
  await v.waitFor((m) => m.type === 'event' && m.id === 2 && m.event === 'fatal', from2);
});

test('rm forgets entries that no longer run (by id, name or "exited") and refuses running ones', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(t, `apps:\n${app('a', ['--no-signal'])}${app('b', ['--no-signal'])}settings:\n  shutdownGraceMs: 500\n`);
  for (const line of ['s a', 's a', 's b', 's b', 'sd 2', 'sd 3', 'sd 4']) assert.equal((await v.run(line)).ok, true, line);
  const running = await v.run('rm 5');
  assert.equal(running.ok, false);
  assert.match(String(running.text), /5 \(b\) is running: stop it first/);
  assert.match(String((await v.run('rm 2')).text), /removed 2 \(a\)/);
  assert.match(String((await v.run('rm b')).text), /removed 4 \(b\)/);
  assert.match(String((await v.run('rm exited')).text), /removed 3 \(a\)/);
  assert.deepEqual(((await v.run('la')).data as Info[]).map((i) => i.id), [5]);
  assert.match(String((await v.run('rm exited')).text), /nothing to remove/);
  assert.match(String((await v.run('s a')).text), /^started a with id 6 /, 'ids are never reused');
});

test('start arguments replace default_args only: the fixed args (a subcommand) stay', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(t, `apps:\n${app('sub', ['--tick', '5000'], '    args: ["--no-signal"]\n')}`);
  await v.run('s sub --tick 4000 extra');
  const line = await v.waitForAppLine(2, (l) => l.startsWith('app pid'));
  assert.match(line, /args \["--no-signal","--tick","4000","extra"\]$/);
  await v.run('s sub');
  const def = await v.waitForAppLine(3, (l) => l.startsWith('app pid'));
  assert.match(def, /args \["--no-signal","--tick","5000"\]$/);
});

test('la shows CPU and memory and cuts the args to the reader\'s width; -f shows them all', { timeout: 30_000 }, async (t) => {
  const { v, dir } = await launch(t, `apps:\n${app('wide', ['--no-signal', '--tick', '5000', 'x'.repeat(120)])}`);
  await v.run('s wide');
  const info = readControlInfo(join(dir, '.viscript'));
  const ask = async (line: string, columns?: number) => {
    let result: ControlMessage | undefined;
    await sendControlCommand(info, line, (m) => (result = m.type === 'result' ? m : result), columns);
    return result!;
  };
  const narrow = await ask('la', 80);
  const lines = String(narrow.text).split('\n');
  assert.match(lines[0], /^ID\s+NAME\s+PID\s+STATE\s+UPTIME\s+CPU\s+MEM\s+ARGS$/);
  for (const l of lines) assert.ok(l.length <= 80, `fits 80 columns: ${l}`);
  assert.ok(lines[1].endsWith('…'), lines[1]);
  assert.match(lines[1], /\d+\.\d% +\d+\.\d MiB/, 'CPU % and memory of the running app');
  const row = (narrow.data as Info[])[0];
  assert.ok(typeof row.cpu === 'number' && typeof row.rss === 'number' && row.rss > 0);
  const full = await ask('la -f', 80);
  assert.ok(String(full.text).includes('x'.repeat(120)), '-f is never cut');
});

test('viscript -c with no --config/--state-dir finds the demo\'s Viscript (.demo/viscript) from where the demo was started', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, `apps:\n${app('x', ['--no-signal'])}`);
  const v = startViscript(['--config', file, '--state-dir', join(dir, '.demo', 'viscript')]);
  t.after(() => v.kill());
  await v.waitFor((m) => m.type === 'ready');
  const r = await runViscript(['-c', 'apps'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^APP/);
  const elsewhere = tempDir(t);
  const none = await runViscript(['-c', 'apps'], { cwd: elsewhere });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no running Viscript found/);
});

test('reload: new apps appear, changes apply at the next start, running apps are untouched, errors keep the old config', { timeout: 30_000 }, async (t) => {
  const { v, file } = await launch(t, `apps:\n${app('a', ['--no-signal', '--tick', '5000'])}`);
  await v.run('s a');
  const before = await v.waitForAppLine(2, (l) => l.startsWith('app pid'));
  writeFileSync(file, `apps:\n${app('a', ['--no-signal', '--tick', '4000'])}${app('b', ['--no-signal'])}`);
  const r = await v.run('reload');
  assert.equal(r.ok, true, String(r.text));
  assert.match(String(r.text), /added b; changed a \(applies at its next start\)/);
  const la = (await v.run('la')).data as Info[];
  assert.deepEqual(la[0].args, ['--no-signal', '--tick', '5000'], 'the running app keeps its definition');
  assert.equal(la[0].state, 'running');
  assert.equal((await v.run('s b')).ok, true);
  await v.run('restart 2');
  const after = await v.waitForAppLine(2, (l) => l.startsWith('app pid') && l !== before);
  assert.match(after, /"4000"/);
  writeFileSync(file, 'apps:\n  a:\n    pth: x\n');
  const bad = await v.run('reload');
  assert.equal(bad.ok, false);
  assert.match(String(bad.text), /config\.yaml:\d+: apps\.a\.path: is required but missing/);
  assert.deepEqual(((await v.run('apps')).data as Array<{ name: string }>).map((a) => a.name), ['a', 'b'], 'the old config stays');
});

test('shutdownGraceMs per app: a client that exits a while after SHUTDOWN (a 2017 Go client) is not escalated', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(
    t,
    `apps:\n${app('slow', ['--slow-shutdown', '600'], '    shutdownGraceMs: 10000\n')}${app('hasty', ['--slow-shutdown', '600'])}` +
      'settings:\n  shutdownGraceMs: 100\n',
  );
  await v.run('s slow');
  await v.run('s hasty');
  await v.waitFor((m: Msg) => m.type === 'event' && m.event === 'registered' && m.id === 2);
  await v.waitFor((m: Msg) => m.type === 'event' && m.event === 'registered' && m.id === 3);
  const slow = await v.run('sd 2');
  const hasty = await v.run('sd 3');
  assert.equal((slow.data as { via: string }).via, 'signal', String(slow.text));
  assert.equal((hasty.data as { via: string }).via, 'SIGTERM', String(hasty.text));
});

test('TOP answers carry Go MemStats names (for a 2017 Go Viscript) alongside ours; ru shows them once', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(t, `apps:\n${app('c', ['--tick', '5000'])}`);
  await v.run('s c');
  await v.waitFor((m: Msg) => m.type === 'event' && m.event === 'registered' && m.id === 2);
  const ru = await v.run('ru c');
  const reported = (ru.data as { reported: Record<string, unknown> }).reported;
  for (const k of ['rss', 'heapUsed', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse', 'Alloc', 'Sys', 'NumGC']) {
    assert.equal(typeof reported[k], 'number', k);
  }
  assert.equal(reported.HeapAlloc, reported.heapUsed);
  assert.equal(reported.Sys, reported.rss);
  assert.doesNotMatch(String(ru.text), /HeapAlloc/, 'the same figures are not shown twice');
});

test('logs: every line of an app, printed or logged, is one human line with its time; JSON only with --json', { timeout: 30_000 }, async (t) => {
  const { v } = await launch(t, `apps:\n${app('l', ['--no-signal', '--log-warn'])}`);
  await v.run('s l');
  await v.waitForAppLine(2, (l) => l.includes('a warning'));
  const logs = await v.run('logs l');
  const lines = String(logs.text).split('\n');
  const stamp = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} /;
  for (const l of lines) assert.match(l, stamp, l);
  assert.ok(lines.some((l) => /^\S+ \S+ app pid \d+/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^\S+ \S+ WARN fixture: a warning key=value n=2$/.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('{"')), 'no JSON log lines among the human ones');
  const data = logs.data as { lines: Array<{ text: string; t: number }> };
  assert.ok(data.lines.every((l) => typeof l.t === 'number'), 'the JSON form has each line\'s time');
});
