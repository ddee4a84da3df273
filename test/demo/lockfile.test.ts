// The README's first command is `npm install`: it must leave `git status` clean. npm writes an entry for every
// optional dependency of every locked package, whatever the platform (rollup's per-platform binaries are
// tagged with os/cpu and only installed where they fit); a lock written from a tree holding only this
// platform's binary lacks the others, and the next `npm install` adds them back (345 lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../viscript/helpers.js';

type Entry = { optionalDependencies?: Record<string, string>; version?: string };

test('package-lock.json holds every optional dependency npm install would add (so it stays unchanged)', () => {
  const lock = JSON.parse(readFileSync(join(repoRoot(), 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
      // npm's lookup: beside the package (nested), then up the tree to the root.
      const candidates = [`${path ? path + '/' : ''}node_modules/${dep}`, `node_modules/${dep}`];
      const found = candidates.map((c) => lock.packages[c]).find(Boolean);
      if (!found) missing.push(`${dep}@${range} (optional dependency of ${path || 'the root'})`);
    }
  }
  assert.deepEqual(missing, [], 'run `npm install --package-lock-only` and commit the lock file');
});
