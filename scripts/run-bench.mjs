#!/usr/bin/env node
// Runs the compiled benchmarks one after another (or those whose path contains a filter).
// Each benchmark prints its own figures as ratios against a baseline measured in the same run, and the machine load.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const benchRoot = join(root, 'dist', 'bench');
const filters = process.argv.slice(2);
const walk = (dir) => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? walk(p) : n.endsWith('.bench.js') ? [p] : [];
});
let files = walk(benchRoot).sort();
if (filters.length) files = files.filter((f) => filters.some((s) => relative(benchRoot, f).includes(s)));
if (!files.length) {
  console.error('no benchmark matched');
  process.exit(2);
}
// A bench that cannot measure its goal exits non-zero (and says why): name each one at the end.
const failed = [];
for (const f of files) {
  console.log(`\n=== ${relative(root, f)}`);
  const r = spawnSync(process.execPath, [f], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed.push(`${relative(root, f)} (${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`})`);
}
if (failed.length) console.log(`\nbenchmarks that failed: ${failed.join(', ')}`);
process.exit(failed.length ? 1 : 0);
