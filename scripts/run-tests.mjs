#!/usr/bin/env node
// Runs the compiled test files with Node's test runner and ends with one plain summary line
// ("N passed, N failed, N skipped") that CI and people can read at a glance.
// Usage: node scripts/run-tests.mjs [filter...]   (a filter is a substring of the test file path)
import { readdirSync, statSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const testRoot = join(root, 'dist', 'test');
const filters = process.argv.slice(2);

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

mkdirSync(join(root, 'test-artifacts'), { recursive: true });
const tapFile = join(root, 'test-artifacts', 'tap.txt');
const args = [
  '--test',
  '--test-concurrency=2',
  '--test-timeout=300000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
  ...files,
];
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root });
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => {
  let pass = 0, fail = 0, skip = 0;
  try {
    const tap = readFileSync(tapFile, 'utf8');
    // Only the runner's final totals (at column 0) count; nested subtest lines are indented.
    pass = Number(/^# pass (\d+)/m.exec(tap)?.[1] ?? 0);
    fail = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(tap)?.[1] ?? 0);
    skip = Number(/^# skipped (\d+)/m.exec(tap)?.[1] ?? 0);
  } catch {
    fail = Math.max(fail, 1);
  }
  console.log(`\n${pass} passed, ${fail} failed, ${skip} skipped`);
  process.exit(code === 0 && fail === 0 && !signal ? 0 : 1);
});
