// Drives the real `viscript` CLI (headless, --json, commands on its stdin) against real signal-client apps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { FIXTURE_APP, VISCRIPT_CLI, goneWithin, isAlive, runViscript, startViscript, tempDir, writeConfig, type Msg } from './helpers.js';

function config(extra = ''): string {
  return `apps:
  app:
    desc: a test app that is a signal client
    path: ${JSON.stringify(FIXTURE_APP)}
    default_args: ["--tick", "5000"]
    help: |
      [1] flags of the fixture
  plain:
    desc: not a signal client
    path: ${JSON.stringify(FIXTURE_APP)}
    default_args: ["--no-signal"]
  missing:
    path: bin/not-there
  nowhere:
    path: no-such-program-on-path-xyz
${extra}
settings:
  shutdownGraceMs: 2000
`;
}

const isEvent = (event: string, id: number) => (m: Msg) => m.type === 'event' && m.event === event && m.id === id;

test('headless --json: apps, start, la, ping, ru, logs, attach, sd against a real signal client', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, config());
  const v = startViscript(['--config', file, '--exit-on-eof']);
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  assert.deepEqual(ready.apps, ['app', 'plain', 'missing', 'nowhere']);

  const apps = await v.run('apps');
  assert.equal(apps.ok, true);
  assert.match(String(apps.text), /app\s+a test app that is a signal client/);

  const help = await v.run('help app');
  assert.match(String(help.text), /\[1\] flags of the fixture/);

  // User args replace default_args and keep their case and quoting.
  const started = await v.run(`s app --tick 50 'Mixed Case'`);
  assert.equal(started.ok, true, String(started.text));
  const data = started.data as { id: number; pid: number; args: string[] };
  assert.equal(data.id, 2);
  assert.deepEqual(data.args, ['--tick', '50', 'Mixed Case']);
  await v.waitFor(isEvent('registered', 2));

  const la = await v.run('la');
  const row = (la.data as Array<{ id: number; name: string; pid: number; state: string; uptimeMs: number; args: string[] }>)[0];
  assert.equal(row.id, 2);
  assert.equal(row.name, 'app');
  assert.equal(row.pid, data.pid);
  assert.equal(row.state, 'registered');
  assert.equal(typeof row.uptimeMs, 'number');
  assert.match(String(la.text), /^ID\s+NAME\s+PID\s+STATE\s+UPTIME\s+CPU\s+MEM\s+ARGS\n2\s+app\s+\d+\s+registered\s+\d+s\s+\d+\.\d%\s+[\d.]+ MiB\s+--tick 50 'Mixed Case'$/);
  const laf = await v.run('la -f');
  assert.match(String(laf.text), /client-app\.js --tick 50 'Mixed Case'/);

  const ping = await v.run('ping 2');
  assert.equal(ping.ok, true);
  assert.ok((ping.data as { rttMs: number }).rttMs >= 0);
  assert.match(String(ping.text), /^pong from 2 \(app\) in [\d.]+ ms$/);

  const ru = await v.run('ru 2');
  assert.equal(ru.ok, true, String(ru.text));
  const usage = ru.data as { rss: number; cpu: number; pids: number[]; reported: { rss: number } };
  assert.ok(usage.rss > 1_000_000, 'rss measured by Viscript');
  assert.deepEqual(usage.pids, [data.pid]);
  assert.ok(usage.reported.rss > 0, 'figures reported by the app over signal');

  // Output is drained and buffered whether or not anyone watches; `logs -f` follows it until Ctrl+Z.
  const follow = await v.run('logs 2 -f');
  assert.equal(follow.ok, true);
  const tail = (follow.data as { lines: Array<{ text: string }> }).lines;
  if (!tail.some((l) => l.text === 'tick 3')) await v.waitFor((m) => m.type === 'output' && m.id === 2 && m.text === 'tick 3');
  const unfollow = await v.run('\x1a');
  assert.match(String(unfollow.text), /stopped following 2/);
  await v.waitForAppLine(2, (l) => l === 'a line on stderr');
  const logs = await v.run('logs 2 -n 1000');
  const lines = (logs.data as { lines: Array<{ text: string; stream: string }> }).lines;
  assert.ok(lines.some((l) => l.stream === 'stderr' && l.text === 'a line on stderr'));
  assert.ok(lines.some((l) => l.text === 'tick 3'));
  const logFile = join(dir, '.viscript', 'logs', '2-app.log');
  assert.match(readFileSync(logFile, 'utf8'), /tick 1\n/);

  // Attach: lines go to the app's stdin, its output comes back, Ctrl+Z (\x1a) detaches.
  const att = await v.run('attach 2');
  assert.equal(att.ok, true, String(att.text));
  const from = v.messages.length;
  v.send('Hello There');
  await v.waitFor((m) => m.type === 'output' && m.id === 2 && m.text === 'echo: Hello There', from);
  const det = await v.run('\x1a');
  assert.equal(det.ok, true);
  assert.equal((await v.run('la')).ok, true, 'commands work again after detaching');

  const sd = await v.run('sd 2');
  assert.equal(sd.ok, true, String(sd.text));
  assert.equal((sd.data as { via: string }).via, 'signal');
  assert.match(String(sd.text), /exited with code 0 after the signal SHUTDOWN/);
  assert.equal(isAlive(data.pid), false);
  const after = await v.run('la');
  assert.equal((after.data as Array<{ state: string }>)[0].state, 'exited');

  // Ids are never reused in a run.
  const again = await v.run('start app');
  assert.equal((again.data as { id: number }).id, 3);
  v.child.stdin!.end();
  const exit = await v.exited;
  assert.equal(exit.code, 0);
  assert.equal(isAlive((again.data as { pid: number }).pid), false);
});

test('bad input gets a one-line error and breaks nothing; a missing binary is reported on start and in la', async (t) => {
  const dir = tempDir(t);
  const v = startViscript(['--config', writeConfig(dir, config()), '--exit-on-eof']);
  t.after(() => v.kill());
  for (const [line, pattern] of [
    ['frobnicate 2', /unknown command "frobnicate"/],
    ['ping abc', /"abc" is neither an id nor an app name nor "all"/],
    ['ping 42', /no app with id 42/],
    ['s nosuchapp', /unknown app "nosuchapp"/],
    ['s', /missing app name/],
    ['la "unterminated', /unterminated " quote/],
    ['nt', /GUI/],
    ['logs 2 -n many', /-n needs a number of lines/],
  ] as const) {
    const r = await v.run(line);
    assert.equal(r.ok, false, line);
    assert.match(String(r.text), pattern);
    assert.doesNotMatch(String(r.text), /\n/, 'one line');
  }
  const missing = await v.run('start missing');
  assert.equal(missing.ok, false);
  assert.match(String(missing.text), /not-there does not exist \(ENOENT\)/);
  const nowhere = await v.run('start nowhere');
  assert.match(String(nowhere.text), /no-such-program-on-path-xyz not found \(ENOENT\)/);
  const la = await v.run('la');
  const rows = la.data as Array<{ id: number; state: string; error: string }>;
  assert.deepEqual(rows.map((r) => [r.id, r.state]), [[2, 'failed'], [3, 'failed']]);
  assert.match(String(la.text), /failed: .*ENOENT/);
  assert.equal((await v.run('help')).ok, true, 'still answering');
  v.child.stdin!.end();
  assert.equal((await v.exited).code, 0);
});

test('one-shot -c talks to the running Viscript; a wrong token is rejected', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, config());
  const v = startViscript(['--config', file]);
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  const controlFile = String(ready.controlFile);
  assert.equal(statSync(controlFile).mode & 0o777, 0o600);

  const start = await runViscript(['--config', file, '-c', 'start app --tick 100']);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /^started app with id 2 \(pid \d+\)\n$/);
  const la = await runViscript(['--config', file, '--json', '-c', 'la']);
  assert.equal(la.code, 0);
  // --json prints one object per line (an app's state event may come before the answer): the answer is the result.
  const resultOf = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).find((m) => m.type === 'result');
  const result = resultOf(la.stdout) as unknown as { ok: boolean; data: Array<{ id: number; name: string }> };
  assert.deepEqual(result.data.map((a) => [a.id, a.name]), [[2, 'app']]);
  const bad = await runViscript(['--config', file, '-c', 'ping 77']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no app with id 77/);

  // The same socket with a forged token: refused, before any command runs.
  const info = JSON.parse(readFileSync(controlFile, 'utf8')) as { host: string; port: number; token: string };
  const forged = join(dir, 'forged');
  mkdirSync(forged);
  writeFileSync(join(forged, 'control.json'), JSON.stringify({ ...info, token: 'f'.repeat(64) }));
  const refused = await runViscript(['--state-dir', forged, '-c', 'start app']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /wrong token/);
  const raw = await new Promise<string>((resolve) => {
    const s = connect(info.port, info.host, () => s.write('{"token":"nope","line":"quit"}\n'));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
  });
  assert.match(raw, /wrong token/);
  const still = await runViscript(['--config', file, '--json', '-c', 'la']);
  assert.equal((resultOf(still.stdout) as unknown as { data: unknown[] }).data.length, 1, 'nothing was started by the forged requests');

  // `logs -f` through the control socket streams the app's lines until the client goes away.
  const follower = spawn(process.execPath, [VISCRIPT_CLI, '--config', file, '-c', 'logs 2 -n 0 -f'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => follower.kill('SIGKILL'));
  await new Promise<void>((resolve) => {
    let out = '';
    follower.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^\S+ \S+ tick \d+$/m.test(out)) resolve(); // each line stamped with its time
    });
  });
  follower.kill('SIGINT');
  await new Promise((r) => follower.once('exit', r));
  assert.equal((await runViscript(['--config', file, '-c', 'la'])).code, 0, 'still answering after the follower left');

  // With no Viscript there, -c says so and fails.
  const none = await runViscript(['--state-dir', join(dir, 'empty'), '-c', 'la']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no running Viscript/);

  const quit = await runViscript(['--config', file, '-c', 'quit']);
  assert.equal(quit.code, 0);
  assert.equal((await v.exited).code, 0);
  assert.equal(existsSync(controlFile), false, 'control.json is removed when Viscript stops');
});

test('a taken signal port is a runtime error: exit 1, saying which address', async (t) => {
  const dir = tempDir(t);
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.after(() => taken.close());
  const address = `127.0.0.1:${(taken.address() as { port: number }).port}`;
  const r = await runViscript(['--config', writeConfig(dir, config()), '--headless', '--signal-address', address]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `viscript: cannot listen for signal clients on ${address}: the address is in use (another Viscript?)`);
  assert.equal(existsSync(join(dir, '.viscript', 'control.json')), false, 'no control file of a Viscript that never ran');
});

test('SIGTERM to Viscript stops every app and leaves no orphan process', async (t) => {
  const dir = tempDir(t);
  const v = startViscript(['--config', writeConfig(dir, config())]);
  t.after(() => v.kill());
  const a = await v.run('s app --child');
  const b = await v.run('s plain --child --ignore-term');
  const pids: number[] = [];
  for (const r of [a, b]) {
    const id = (r.data as { id: number }).id;
    pids.push((r.data as { pid: number }).pid);
    // The fixture prints its grandchild's pid.
    const line = await v.waitForAppLine(id, (l) => l.startsWith('child pid '));
    pids.push(Number(line.split(' ')[2]));
  }
  await v.waitFor(isEvent('registered', 2));
  for (const pid of pids) assert.equal(isAlive(pid), true);
  v.child.kill('SIGTERM');
  const exit = await v.exited;
  assert.equal(exit.code, 0);
  const survivors: number[] = [];
  for (const pid of pids) if (!(await goneWithin(pid))) survivors.push(pid);
  assert.deepEqual(survivors, [], 'no app process outlives Viscript');
});

test('restart policy: on-failure restarts under the same id with backoff; sd escalates to SIGKILL', async (t) => {
  const dir = tempDir(t);
  const extra = `  flaky:
    path: ${JSON.stringify(FIXTURE_APP)}
    default_args: ["--exit-after", "100", "3"]
    restart: on-failure
  stubborn:
    path: ${JSON.stringify(FIXTURE_APP)}
    default_args: ["--no-signal", "--ignore-term"]
`;
  const v = startViscript(['--config', writeConfig(dir, config(extra).replace('shutdownGraceMs: 2000', 'shutdownGraceMs: 300'))]);
  t.after(() => v.kill());
  const s = await v.run('s flaky');
  const firstPid = (s.data as { pid: number }).pid;
  const r1 = await v.waitFor(isEvent('restarting', 2));
  assert.equal((r1.app as { exitCode: number }).exitCode, 3);
  await v.waitFor((m) => m.type === 'event' && m.event === 'restarting' && m.id === 2 && (m.app as { restarts: number }).restarts === 1);
  const la = await v.run('la');
  const row = (la.data as Array<{ id: number; restarts: number; pid: number }>)[0];
  assert.equal(row.id, 2);
  assert.ok(row.restarts >= 1);
  assert.notEqual(row.pid, firstPid);
  const stop = await v.run('sd 2');
  assert.equal(stop.ok, true, String(stop.text));
  const down = await v.run('la');
  assert.equal((down.data as Array<{ state: string }>)[0].state, 'exited', 'a stopped app is not restarted');

  const st = await v.run('s stubborn');
  const pid = (st.data as { pid: number }).pid;
  // Wait until it has installed its SIGTERM handler (it says so by printing its pid).
  await v.waitForAppLine(3, (l) => l.startsWith('app pid'));
  const sd = await v.run('sd 3');
  assert.equal((sd.data as { via: string }).via, 'SIGKILL');
  assert.match(String(sd.text), /killed by SIGKILL after SIGKILL/);
  assert.equal(isAlive(pid), false);
  v.child.stdin!.end();
  v.child.kill('SIGTERM');
  await v.exited;
});

test('config errors name the file, line, key and value; a missing config starts with no apps; --help answers', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, 'apps:\n  web:\n    path: ./x\n    restart: sometimes\n');
  const bad = await runViscript(['--config', file, '--headless']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), `viscript: invalid config: ${file}:4: apps.web.restart: "sometimes" must be one of never, on-failure, always`);
  writeConfig(dir, 'apps:\n  web:\n    path: ./x\n    default_args: [{a: 1}]\n');
  const arg = await runViscript(['--config', file, '--headless']);
  assert.equal(arg.code, 2);
  assert.equal(arg.stderr.trim(), `viscript: invalid config: ${file}:4: apps.web.default_args.0: {"a":1} must be a string`);
  const aliases = Array.from({ length: 6 }, (_, i) => `l${i}: &a${i} [${Array(10).fill(i ? `*a${i - 1}` : 'x').join(', ')}]`);
  writeConfig(dir, aliases.join('\n') + '\n');
  const bomb = await runViscript(['--config', file, '--headless']);
  assert.equal(bomb.code, 2, bomb.stderr);
  assert.match(bomb.stderr.trim(), new RegExp(`^viscript: invalid config: ${file}:2: YAML aliases expand too much`));

  // A named config that is missing is refused (a typo); only the default ./config.yaml may be absent.
  const named = await runViscript(['--config', join(dir, 'absent.yaml'), '--headless']);
  assert.equal(named.code, 2);
  assert.match(named.stderr, /^viscript: --config .*absent\.yaml: no such file/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const v = startViscript(['--exit-on-eof'], { cwd: empty });
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  assert.equal(ready.configExists, false);
  const apps = await v.run('apps');
  assert.match(String(apps.text), /no apps: .*config\.yaml: it does not exist/);
  v.child.stdin!.end();
  assert.equal((await v.exited).code, 0);

  const help = await runViscript(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--config <path>/);
  assert.match(help.stdout, /-c, --command <line>/);
});

test('autostart apps run at launch; restart keeps the id; a second Viscript on the same state dir refuses', async (t) => {
  const dir = tempDir(t);
  const extra = `  auto:
    path: ${JSON.stringify(FIXTURE_APP)}
    autostart: true
    env: { GREETING: 42 }
`;
  const file = writeConfig(dir, config(extra));
  const v = startViscript(['--config', file, '--exit-on-eof']);
  t.after(() => v.kill());
  await v.waitFor((m) => m.type === 'ready');
  const la = await v.run('la');
  const rows = la.data as Array<{ id: number; name: string; pid: number }>;
  assert.deepEqual(rows.map((r) => [r.id, r.name]), [[2, 'auto']]);
  await v.waitFor(isEvent('registered', 2));
  assert.equal(await v.waitForAppLine(2, (l) => l.startsWith('greeting')), 'greeting 42', 'env reaches the app');

  const second = await runViscript(['--config', file, '--headless']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /already runs with state dir/);

  const r = await v.run('restart 2');
  assert.equal(r.ok, true, String(r.text));
  const info = r.data as { id: number; pid: number; restarts: number };
  assert.equal(info.id, 2);
  assert.notEqual(info.pid, rows[0].pid);
  assert.equal(isAlive(rows[0].pid), false);
  assert.equal(info.restarts, 1);
  await v.waitFor((m) => m.type === 'event' && m.event === 'registered' && m.id === 2 && (m.app as { pid: number }).pid === info.pid);
  assert.equal((await v.run('ping 2')).ok, true);
  v.child.stdin!.end();
  assert.equal((await v.exited).code, 0);
  assert.equal(isAlive(info.pid), false);
});
