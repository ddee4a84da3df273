// config.yaml validation: every error names the file, the line, the key and the bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/viscript/config.js';
import { resolveLaunch } from '../../src/viscript/launch.js';
import { repoRoot, tempDir, writeConfig } from './helpers.js';

const FILE = '/srv/vs/config.yaml';

function errorOf(yaml: string): ConfigError {
  try {
    parseConfig(yaml, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('bad configs: the message names file, line, key and value', () => {
  const cases: Array<[string, number, string, string]> = [
    ['apps:\n  web:\n    path: ./w\n    restart: sometimes\n', 4, 'apps.web.restart', '"sometimes" must be one of never, on-failure, always'],
    ['apps:\n  web:\n    daemon: maybe\n    path: ./w\n', 3, 'apps.web.daemon', '"maybe" must be a boolean'],
    ['apps:\n  web:\n    desc: no path here\n', 3, 'apps.web.path', 'is required but missing'],
    ['apps:\n  web:\n    path: ./w\n    defualt_args: []\n', 4, 'apps.web.defualt_args', 'unknown key (known keys: daemon, desc, path'],
    ['apps:\n  web:\n    path: ./w\n    default_args: {a: 1}\n', 4, 'apps.web.default_args', '{"a":1} must be a list'],
    ['apps:\n  web:\n    path: ./w\n    default_args: [{a: 1}]\n', 4, 'apps.web.default_args.0', '{"a":1} must be a string'],
    ['apps:\n  web:\n    path: ./w\n    default_args:\n      - ok\n      - [1, 2]\n', 6, 'apps.web.default_args.1', '[1,2] must be a string'],
    ['apps:\n  web:\n    path: ./w\n    env:\n      A: {b: 1}\n', 5, 'apps.web.env.A', '{"b":1} must be a string'],
    ['apps:\n  web:\n    path: ./w\n    env:\n      A: [1]\n', 5, 'apps.web.env.A', '[1]'],
    ['settings:\n  runHeadless: true\n  signalAddress: nowhere\n', 3, 'settings.signalAddress', '"nowhere" is not HOST:PORT'],
    ['settings:\n  shutdownGraceMs: -5\n', 2, 'settings.shutdownGraceMs', '-5'],
    ['apps:\n  web:\n    path: ""\n', 3, 'apps.web.path', '"" must not be empty'],
    ['apps:\n  "bad name!":\n    path: ./w\n', 2, 'apps.bad name!', 'app names may use'],
    ['colour: blue\n', 1, 'colour', 'unknown key (known keys: apps, settings, cluster)'],
  ];
  for (const [yaml, line, key, text] of cases) {
    const err = errorOf(yaml);
    assert.ok(err.message.startsWith(`${FILE}:${line}: ${key}: `), `${err.message} (expected line ${line}, key ${key})`);
    assert.ok(err.message.includes(text), `${err.message} should include ${text}`);
    assert.equal(err.line, line);
    assert.equal(err.key, key);
  }
});

test('a YAML alias bomb is a located config error, not a crash', () => {
  const bomb = [
    'apps:',
    '  web:',
    '    path: ./w',
    '    help: x',
    'lol1: &a [x, x, x, x, x, x, x, x, x, x]',
    'lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
    'lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
    'lol4: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  ].join('\n');
  const err = errorOf(bomb);
  assert.match(err.message, /^\/srv\/vs\/config\.yaml:6: YAML aliases expand too much/);
  assert.equal(err.line, 6);
});

test('YAML syntax errors and duplicate keys give the file and line', () => {
  assert.match(errorOf('apps:\n  web: [\n').message, /^\/srv\/vs\/config\.yaml:\d+: YAML syntax error: /);
  assert.match(errorOf('apps:\n  web:\n    path: a\n    path: b\n').message, /^\/srv\/vs\/config\.yaml:4: YAML syntax error: .*unique/);
});

test('the 2017 keys keep their meaning and the extensions have defaults', () => {
  const c = parseConfig(
    `apps:
  meshnet-socks-server:
    daemon: true
    desc: SOCKS5 exit over the mesh
    path: bin/meshnet/meshnet-run-socks-server
    default_args: [sockssrv0, 101.202.34.56:9000, 8001]
    help: |
        [1] Text name of app, must be unique
settings:
  verboseInput: false
  verifyParsingByPrinting: true
  runHeadless: true
`,
    FILE,
  );
  const app = c.apps.get('meshnet-socks-server')!;
  assert.equal(app.daemon, true);
  assert.deepEqual(app.default_args, ['sockssrv0', '101.202.34.56:9000', '8001']);
  assert.equal(app.restart, 'never');
  assert.equal(app.autostart, false);
  assert.deepEqual(app.env, {});
  assert.equal(c.settings.runHeadless, true);
  assert.equal(c.settings.verifyParsingByPrinting, true);
  assert.equal(c.settings.signalAddress, '127.0.0.1:7999');
  assert.equal(c.settings.allowUntokened, false);
  assert.equal(c.dir, '/srv/vs');
});

test('numbers in args and env become text; an empty file or empty apps means no apps', () => {
  const c = parseConfig('apps:\n  a:\n    path: x.js\n    default_args: [8000, true]\n    env: {PORT: 80}\n', FILE);
  assert.deepEqual(c.apps.get('a')!.default_args, ['8000', 'true']);
  assert.deepEqual(c.apps.get('a')!.env, { PORT: '80' });
  assert.equal(parseConfig('', FILE).apps.size, 0);
  assert.equal(parseConfig('apps:\n', FILE).apps.size, 0);
});

test('a missing file is no apps, not an error', (t) => {
  const c = loadConfig(join(tempDir(t), 'none.yaml'));
  assert.equal(c.exists, false);
  assert.equal(c.apps.size, 0);
});

test('path: relative to the config directory, bare names via PATH, .js files run with node', (t) => {
  const dir = tempDir(t);
  writeConfig(dir, '');
  const c = parseConfig('apps:\n  js:\n    path: config.yaml.mjs\n  bare:\n    path: sleep\n  rel:\n    path: ./config.yaml\n    cwd: .\n', join(dir, 'config.yaml'));
  const bare = resolveLaunch(c.apps.get('bare')!, c.dir, ['1']);
  assert.equal(bare.file, 'sleep');
  assert.equal(bare.cwd, dir);
  const rel = resolveLaunch(c.apps.get('rel')!, c.dir, []);
  assert.equal(rel.file, join(dir, 'config.yaml'));
  assert.throws(() => resolveLaunch(c.apps.get('js')!, c.dir, []), /config\.yaml\.mjs does not exist \(ENOENT\)/);
});

test('examples/config.yaml is valid and its apps exist', () => {
  const c = loadConfig(join(repoRoot(), 'examples', 'config.yaml'));
  assert.ok(c.apps.has('ticker'));
  const l = resolveLaunch(c.apps.get('ticker')!, c.dir, []);
  assert.equal(l.file, process.execPath);
  assert.match(l.argv[0], /examples\/apps\/ticker\.mjs$/);
});

test('${NAME} in path, args, env and cwd comes from the environment; an unset name is a located error', () => {
  const yaml = [
    'apps:',
    '  node:',
    '    path: ${BIN_DIR}/node.js',
    '    default_args: ["--messenger", "${MSG}@127.0.0.1:${PORT:-7100}", "cost: $$5"]',
    '    env:',
    '      KEY_FILE: ${DIR}/a.json',
    '    cwd: ${DIR}',
    '  other:',
    '    path: ./o',
    '    default_args: ["${MISSING}"]',
  ].join('\n');
  const environ = { BIN_DIR: '/opt/sw', MSG: '02ab', DIR: '/tmp/d', MISSING: 'set' };
  const app = parseConfig(yaml, FILE, true, environ).apps.get('node')!;
  assert.equal(app.path, '/opt/sw/node.js');
  assert.deepEqual(app.default_args, ['--messenger', '02ab@127.0.0.1:7100', 'cost: $5']);
  assert.deepEqual(app.env, { KEY_FILE: '/tmp/d/a.json' });
  assert.equal(app.cwd, '/tmp/d');
  try {
    parseConfig(yaml, FILE, true, { ...environ, MISSING: undefined });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `${FILE}:10: apps.other.default_args: "\${MISSING}": environment variable MISSING is not set`);
  }
});
