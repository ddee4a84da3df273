// The command line parser and the shell session: quoting rules, thousands of random inputs, completion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../src/viscript/config.js';
import { Engine } from '../../src/viscript/engine.js';
import { ShellSession, type CommandResult } from '../../src/viscript/session.js';
import { ParseError, quoteWord, tokenize } from '../../src/viscript/tokenize.js';
import { describeReportedUsage } from '../../src/viscript/format.js';
import { FIXTURE_APP, tempDir } from './helpers.js';

test('words keep their case and may be quoted', () => {
  assert.deepEqual(tokenize('s apptracker 127.0.0.1:20000'), ['s', 'apptracker', '127.0.0.1:20000']);
  assert.deepEqual(tokenize(`  start  App "Two Words" 'single \\ quoted' a\\ b ""  `), ['start', 'App', 'Two Words', 'single \\ quoted', 'a b', '']);
  assert.deepEqual(tokenize(`x "say \\"hi\\"" 'it''s' `), ['x', 'say "hi"', 'its']);
});

test('unterminated quotes and a trailing backslash are clear errors', () => {
  assert.throws(() => tokenize('s app "open'), (e: Error) => e instanceof ParseError && /unterminated " quote starting at column 7/.test(e.message));
  assert.throws(() => tokenize("s 'open"), /unterminated ' quote/);
  assert.throws(() => tokenize('s app \\'), /backslash at the end/);
});

function randomLine(rand: () => number): string {
  const alphabet = ['a', 'Z', '1', ' ', ' ', '"', "'", '\\', '-', '\t', 'é', '\x1b', '\u0000', ':', '🙂'];
  const words = ['s', 'start', 'la', '-f', '-a', 'ping', 'ru', 'sd', 'kill', 'logs', '-n', '-f', 'restart', 'attach', 'help', 'h', '?', 'apps', 'nt', 'clear', '2', '99', '-1', 'abc', '9999999999'];
  let out = '';
  const n = Math.floor(rand() * 8);
  for (let i = 0; i < n; i++) {
    if (rand() < 0.5) out += words[Math.floor(rand() * words.length)] + ' ';
    else for (let j = Math.floor(rand() * 6); j > 0; j--) out += alphabet[Math.floor(rand() * alphabet.length)];
  }
  return out;
}

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

test('tokenize: random inputs either parse or raise ParseError; quoting round-trips', () => {
  const rand = seeded(42);
  for (let i = 0; i < 20_000; i++) {
    const line = randomLine(rand);
    try {
      const words = tokenize(line);
      assert.deepEqual(tokenize(words.map(quoteWord).join(' ')), words, JSON.stringify(line));
    } catch (err) {
      assert.ok(err instanceof ParseError, `${JSON.stringify(line)}: ${String(err)}`);
    }
  }
});

async function engineFor(t: { after(fn: () => Promise<void> | void): void }, yaml = ''): Promise<Engine> {
  const dir = tempDir(t);
  const config = parseConfig(yaml, join(dir, 'config.yaml'));
  const engine = await Engine.create({ config, stateDir: join(dir, 'state'), signalAddress: '127.0.0.1:0' });
  t.after(() => engine.close(200));
  return engine;
}

test('the shell answers thousands of random lines with one structured result each and keeps working', async (t) => {
  const engine = await engineFor(t);
  const results: CommandResult[] = [];
  const session = new ShellSession(engine, { result: (r) => results.push(r), output: () => undefined }, { interactive: false });
  const rand = seeded(7);
  for (let i = 0; i < 3000; i++) {
    const line = randomLine(rand);
    const before = results.length;
    const r = await session.submit(line);
    if (r === undefined) {
      assert.equal(results.length, before, 'no output for an empty line');
      continue;
    }
    assert.equal(results.length, before + 1, `one result for ${JSON.stringify(line)}`);
    assert.equal(typeof r.ok, 'boolean');
    assert.equal(typeof r.text, 'string');
    if (!r.ok) assert.doesNotMatch(r.text, /\n/, `one-line error for ${JSON.stringify(line)}: ${r.text}`);
    if (!r.ok) assert.doesNotMatch(r.text, /TypeError|undefined|at .*\.js/, r.text);
  }
  assert.ok(results.some((r) => r.ok) && results.some((r) => !r.ok));
  const help = await session.submit('help');
  assert.equal(help?.ok, true);
  session.close();
});

test('completion offers commands, app names and ids', async (t) => {
  const engine = await engineFor(t, `apps:\n  alpha:\n    path: ${JSON.stringify(FIXTURE_APP)}\n    default_args: [--no-signal]\n  beta:\n    path: ./nope\n`);
  const session = new ShellSession(engine, { result: () => undefined, output: () => undefined });
  assert.deepEqual(session.complete('l'), [['la', 'list_apps', 'list_terms', 'lm', 'logs', 'lt'], 'l']);
  assert.deepEqual(session.complete('s a'), [['alpha'], 'a']);
  assert.deepEqual(session.complete('start -a b'), [['beta'], 'b']);
  assert.deepEqual(session.complete('help '), [['alpha', 'apps', 'attach', 'beta', 'clear', 'close_term', 'defocus', 'deploy', 'focus', 'help', 'kill', 'list_apps', 'list_terms', 'logs', 'machines', 'move_term', 'new_term', 'ping', 'quit', 'reload', 'res_usage', 'restart', 'rm', 'shutdown', 'start'], '']);
  await session.submit('s beta');
  await session.submit('s alpha');
  assert.deepEqual(session.complete('ping '), [['2', '3', 'all', 'alpha', 'beta'], ''], 'ids, then names and all');
  // A cluster hub also offers its machines as targets.
  engine.cluster = { route: () => undefined, machineNames: () => ['m1', 'm2'], machines: () => [] };
  assert.deepEqual(session.complete('ping '), [['2', '3', 'all', 'alpha', 'beta', 'm1:', 'm2:'], '']);
  assert.deepEqual(session.complete('logs m'), [['m1:', 'm2:'], 'm']);
  engine.cluster = undefined;
  for (let i = 0; i < 8; i++) await session.submit('s beta');
  assert.deepEqual(session.complete('ping ')[0].slice(0, 10), ['2', '3', '4', '5', '6', '7', '8', '9', '10', '11'], 'ids in numeric order');
  assert.deepEqual(session.complete('ping 1'), [['10', '11'], '1']);
  assert.deepEqual(session.complete('sd 3'), [['3'], '3']);
  const kill = await session.submit('kill 3');
  assert.equal(kill?.ok, true, kill?.text);
  session.close();
});

test('settings.verboseInput and verifyParsingByPrinting print the input and the parsed words', async (t) => {
  const engine = await engineFor(t, 'settings:\n  verboseInput: true\n  verifyParsingByPrinting: true\n');
  const info: string[] = [];
  const session = new ShellSession(engine, { result: () => undefined, output: () => undefined, info: (s) => info.push(s) });
  await session.submit(`help "a b"`);
  assert.deepEqual(info, ['input: "help \\"a b\\""', 'parsed: ["help","a b"]']);
  session.close();
});

test('settings.allowUntokened: an app that sends no token (a 2017 client) registers and answers', async (t) => {
  const engine = await engineFor(t, `apps:\n  old:\n    path: ${JSON.stringify(FIXTURE_APP)}\n    default_args: [--no-token]\nsettings:\n  allowUntokened: true\n`);
  const registered = new Promise<void>((resolve) => engine.signal.once('register', () => resolve()));
  const session = new ShellSession(engine, { result: () => undefined, output: () => undefined });
  const s = await session.submit('s old');
  assert.equal(s?.ok, true, s?.text);
  await registered;
  const ping = await session.submit('ping 2');
  assert.equal(ping?.ok, true, ping?.text);
  session.close();
});

test('ru shows what an app reports in words, and unknown fields (a 2017 client) as JSON', () => {
  assert.equal(
    describeReportedUsage({ pid: 7, rss: 47857664, heapTotal: 6529024, heapUsed: 5179312, external: 1, cpuUserUs: 62933, cpuSystemUs: 14523, uptimeS: 0.74 }),
    'rss 45.6 MiB, heap 4.9 MiB of 6.2 MiB, cpu time 63 ms user, 15 ms system, up 0.7 s',
  );
  assert.equal(describeReportedUsage({ Memory: 1024 }), '{"Memory":1024}');
  assert.equal(describeReportedUsage({}), '{}');
});
