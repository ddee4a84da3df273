#!/usr/bin/env node
// Runs the compiled test files with Node's test runner and ends with one plain summary line
// ("N passed, N failed, N skipped") that CI and people can read at a glance.
// Usage: node scripts/run-tests.mjs [filter...]   (a filter is a substring of the test file path)
// The counts come from scripts/summary-reporter.mjs, which reads node:test's events, so nothing a test prints can
// change them. A file that ends before all its tests finished counts as a failure. With CI=true every skip is a
// failure too (CI installs every tool the tests need), except one whose reason starts with ALLOWED_IN_CI.
import { readdirSync, statSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A skip reason starting with this is expected in CI as well (none in this suite so far). */
const ALLOWED_IN_CI = '[expected in CI]';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const testRoot = join(root, 'dist', 'test');
const artifacts = join(root, 'test-artifacts');
const filters = process.argv.slice(2);
const inCi = process.env.CI === 'true';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files;
try {
  files = walk(testRoot).sort();
} catch {
  console.error(`no compiled tests under ${relative(root, testRoot)}: run "npm run build" first`);
  process.exit(2);
}
if (filters.length) files = files.filter((f) => filters.some((s) => relative(testRoot, f).includes(s)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(2);
}

// A previous run's files must never stand in for this run's results.
mkdirSync(artifacts, { recursive: true });
const summaryFile = join(artifacts, 'summary.json');
rmSync(summaryFile, { force: true });
rmSync(join(artifacts, 'tap.txt'), { force: true }); // written by earlier versions of this script

const args = [
  '--test',
  '--test-concurrency=2',
  '--test-timeout=300000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`, `--test-reporter-destination=${summaryFile}`,
  ...files,
];
// Without NODE_TEST_CONTEXT: when set (the runner started from inside a test), node --test reports to that parent
// instead of to the reporters above.
const env = { ...process.env };
delete env.NODE_TEST_CONTEXT;
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root, env });
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => {
  let summary;
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch (err) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    console.log(`\nno test summary: the test runner ${how} before writing ${relative(root, summaryFile)} (${err.code ?? err.message})`);
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  const { passed, skips, failures } = summary;
  const at = (e) => `${relative(root, e.file)}: ${e.name}`;
  const blocking = inCi ? skips.filter((s) => !s.reason.startsWith(ALLOWED_IN_CI)) : [];
  for (const s of blocking) failures.push({ ...s, reason: `skipped in CI (CI installs what the tests need): ${s.reason}` });
  if (failures.length) {
    console.log('\nfailed:');
    for (const f of failures) console.log(`  ${at(f)}: ${f.reason}`);
  }
  const allowed = skips.filter((s) => !blocking.includes(s));
  if (allowed.length) {
    console.log('\nskipped:');
    for (const s of allowed) console.log(`  ${at(s)}: ${s.reason}`);
  }
  console.log(`\n${passed} passed, ${failures.length} failed, ${allowed.length} skipped`);
  process.exit(code === 0 && failures.length === 0 && !signal ? 0 : 1);
});
