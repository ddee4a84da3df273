// scripts/run-tests.mjs, run for real on misbehaving test files (test/fixtures-runner/) in a scratch copy of the
// repository layout: its last line and exit code must tell the truth whatever the tests print or do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(repo, 'test', 'fixtures-runner');

interface Run {
  code: number;
  out: string;
  /** The runner's last line: "N passed, N failed, N skipped". */
  last: string;
  dir: string;
}

/**
 * A scratch repo with the runner scripts and the given fixtures as dist/test/*.test.js; with `viaSymlink`,
 * dist/test is a symlink to the directory holding them (as in a symlinked checkout).
 */
function scratch(fixtureNames: string[], viaSymlink = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'run-tests-'));
  mkdirSync(join(dir, 'scripts'));
  if (viaSymlink) {
    mkdirSync(join(dir, 'real-tests'));
    mkdirSync(join(dir, 'dist'));
    symlinkSync(join(dir, 'real-tests'), join(dir, 'dist', 'test'));
  } else {
    mkdirSync(join(dir, 'dist', 'test'), { recursive: true });
  }
  for (const f of readdirSync(join(repo, 'scripts')).filter((n) => n.endsWith('.mjs'))) {
    copyFileSync(join(repo, 'scripts', f), join(dir, 'scripts', f));
  }
  for (const f of fixtureNames) copyFileSync(join(fixtures, `${f}.mjs`), join(dir, 'dist', 'test', `${f}.test.js`));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  return dir;
}

function runner(dir: string, env: Record<string, string | undefined> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.CI === undefined) delete childEnv.CI;
  delete childEnv.NODE_TEST_CONTEXT; // set by the node:test running this file: the runner would report to it
  return new Promise((resolve) => {
    execFile(process.execPath, [join(dir, 'scripts', 'run-tests.mjs')], { cwd: dir, env: childEnv, timeout: 60_000 }, (err, stdout) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      const lines = stdout.trimEnd().split('\n');
      resolve({ code, out: stdout, last: lines[lines.length - 1], dir });
    });
  });
}

async function run(fixtureNames: string[], env: Record<string, string | undefined> = {}, viaSymlink = false): Promise<Run> {
  const dir = scratch(fixtureNames, viaSymlink);
  try {
    return await runner(dir, env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('totals come from the results, not from "pass 999" printed by a test', async () => {
  const r = await run(['prints-totals']);
  assert.equal(r.last, '3 passed, 1 failed, 0 skipped', r.out);
  assert.equal(r.code, 1);
  assert.match(r.out, /prints-totals\.test\.js: fails: this one fails/);
});

test('a normal file: top-level tests counted, the skip named with its reason, exit 0', async () => {
  const r = await run(['normal']);
  assert.equal(r.last, '2 passed, 0 failed, 1 skipped', r.out);
  assert.equal(r.code, 0);
  assert.match(r.out, /normal\.test\.js: needs a tool: frobnicate is not installed/);
});

test('test files reached through a symlink are counted the same (node:test reports their real path)', async () => {
  const r = await run(['normal', 'prints-totals'], {}, true);
  assert.equal(r.last, '5 passed, 1 failed, 1 skipped', r.out);
  assert.equal(r.code, 1);
});

for (const name of ['exits-at-once', 'exits-later']) {
  test(`a file that calls process.exit(0) in its second test (${name}) is a failure naming the file`, async () => {
    const r = await run([name, 'normal']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.last, /^[23] passed, 1 failed, 1 skipped$/, r.out);
    assert.match(r.out, new RegExp(`${name}\\.test\\.js: \\(file\\): ended (early|before reporting any test)`));
  });
}

test('with CI=true a skip fails the run and says which test and why', async () => {
  const r = await run(['normal'], { CI: 'true' });
  assert.equal(r.code, 1, r.out);
  assert.equal(r.last, '2 passed, 1 failed, 0 skipped');
  assert.match(r.out, /normal\.test\.js: needs a tool: skipped in CI .*: frobnicate is not installed/);
});

test('with CI=true only a skip marked "[expected in CI]" is allowed', async () => {
  const r = await run(['allowed-skip'], { CI: 'true' });
  assert.equal(r.code, 0, r.out);
  assert.equal(r.last, '1 passed, 0 failed, 1 skipped');
});

test('a runner that dies midway never prints the previous run\'s totals', async () => {
  const dir = scratch(['normal']);
  try {
    const first = await runner(dir);
    assert.equal(first.last, '2 passed, 0 failed, 1 skipped', first.out);
    rmSync(join(dir, 'dist', 'test', 'normal.test.js'));
    copyFileSync(join(fixtures, 'kills-runner.mjs'), join(dir, 'dist', 'test', 'kills-runner.test.js'));
    const second = await runner(dir);
    assert.equal(second.code, 1, second.out);
    assert.equal(second.last, '0 passed, 1 failed, 0 skipped', second.out);
    assert.match(second.out, /no test summary: the test runner was killed by SIGKILL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
