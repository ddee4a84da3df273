// The control socket of a real `viscript` process against hostile input: whatever arrives on it (any JSON
// value, wrong-typed fields, a line larger than the limit), Viscript and its apps keep running and a
// legitimate `viscript -c` still works. Anyone who can reach 127.0.0.1 can send these, token or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FIXTURE_APP, isAlive, runViscript, startViscript, tempDir, writeConfig } from './helpers.js';

/** Sends `payload` raw and resolves with everything the server wrote before it closed the connection. */
function exchange(port: number, payload: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(payload));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('error', () => undefined); // the server may reset a connection that sends too much
    s.on('close', () => resolve(got));
  });
}

test('hostile control requests get a one-line refusal; Viscript and its apps survive and -c still works', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, `apps:\n  app:\n    path: ${JSON.stringify(FIXTURE_APP)}\n    default_args: ["--tick", "5000"]\n`);
  const v = startViscript(['--config', file]);
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  const started = await v.run('s app');
  const appPid = (started.data as { pid: number }).pid;
  const info = JSON.parse(readFileSync(String(ready.controlFile), 'utf8')) as { port: number; token: string };

  const bad: Array<[string, RegExp]> = [
    ['null', /must be a JSON object/],
    ['[]', /must be a JSON object/],
    ['1', /must be a JSON object/],
    ['"x"', /must be a JSON object/],
    ['true', /must be a JSON object/],
    ['{}', /"token" must be a string/],
    ['{"token":1,"line":"la"}', /"token" must be a string/],
    ['{"token":null,"line":"la"}', /"token" must be a string/],
    ['{"token":["a"],"line":"la"}', /"token" must be a string/],
    ['{"token":{"length":64},"line":"la"}', /"token" must be a string/],
    ['{"line":"quit"}', /"token" must be a string/],
    ['{"token":"nope","line":"quit"}', /wrong token/],
    [`{"token":"${info.token}","line":null}`, /"line" must be a string/],
    [`{"token":"${info.token}","line":["quit"]}`, /"line" must be a string/],
    [`{"token":"${info.token}"}`, /"line" must be a string/],
    ['{"token":', /not JSON/],
  ];
  for (const [line, expected] of bad) {
    const answer = await exchange(info.port, line + '\n');
    const msg = JSON.parse(answer.trim()) as { type: string; ok: boolean; text: string };
    assert.match(msg.text, expected, `answer to ${line}`);
    assert.equal(msg.type, 'result');
    assert.equal(msg.ok, false);
  }
  // A request line larger than the limit (64 KiB), with or without its newline, is cut off unanswered.
  assert.equal(await exchange(info.port, Buffer.alloc(1024 * 1024, 'a')), '');
  assert.equal(await exchange(info.port, '{"token":"' + 'b'.repeat(200_000) + '","line":"la"}\n'), '');

  assert.equal(isAlive(v.child.pid!), true, 'Viscript is alive');
  assert.equal(isAlive(appPid), true, 'its app is alive');
  const la = await runViscript(['--config', file, '--json', '-c', 'la']);
  assert.equal(la.code, 0, la.stderr);
  // --json prints one object per line (an app's state event may come before the answer): take the result.
  const list = la.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).find((m) => m.type === 'result') as unknown as {
    data: Array<{ id: number; pid: number; state: string }>;
  };
  assert.deepEqual(list.data.map((a) => [a.id, a.pid]), [[2, appPid]], 'the app still runs, nothing else was started');
  assert.equal(v.stderr.some((l) => /TypeError|uncaught/i.test(l)), false, v.stderr.join('\n'));
});

test('-c with a control.json of the wrong shape says it is damaged instead of crashing', async (t) => {
  const dir = tempDir(t);
  for (const content of ['null', '[]', '1', '"x"', '{"host":"127.0.0.1","port":"1","token":"t"}', '{"host":"127.0.0.1","port":70000,"token":"t","pid":1}']) {
    const state = join(dir, String(Math.random()).slice(2));
    mkdirSync(state);
    writeFileSync(join(state, 'control.json'), content);
    const r = await runViscript(['--state-dir', state, '-c', 'la']);
    assert.equal(r.code, 1, content);
    assert.match(r.stderr, /control\.json is damaged/, `${content}: ${r.stderr}`);
  }
});
