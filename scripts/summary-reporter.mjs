// A node:test reporter that counts results from the runner's own events (never from text a test prints) and
// writes one JSON summary to its destination: scripts/run-tests.mjs reads it to print its last line.
//
// Counted per test file, top-level tests only (nesting 0; subtests are part of their parent's result):
//   passed / failed (cancelled counts as failed) / skipped (skip or todo, with the reason given).
// A file that ends before all of its tests finished (e.g. `process.exit(0)` inside a test) is a failure:
//   - its tests were announced (test:enqueue) but some never passed or failed: those are named;
//   - or it reported no test at all, so node:test shows the file itself as one passing test;
//   - or node:test sent a plan for the file and fewer top-level tests finished than planned.
// A file whose process failed (load error, non-zero exit) with no failing test of its own is one failure too.

import { realpathSync } from 'node:fs';

/** @typedef {{ file: string, name: string, reason: string }} Entry */

// node:test names a file by the path it was given for the file itself, and by its real path for the tests
// inside it: the same key for both, even when the path goes through a symlink.
const realPaths = new Map();
function realPath(file) {
  let r = realPaths.get(file);
  if (r === undefined) {
    try {
      r = realpathSync(file);
    } catch {
      r = file;
    }
    realPaths.set(file, r);
  }
  return r;
}

export default async function* summaryReporter(source) {
  /** @type {Map<string, { enqueued: Set<string>, finished: Set<string>, failed: number, planned?: number, ended?: { error?: Error } }>} */
  const files = new Map();
  const fileOf = (f) => {
    let s = files.get(f);
    if (!s) files.set(f, (s = { enqueued: new Set(), finished: new Set(), failed: 0 }));
    return s;
  };
  let passed = 0;
  /** @type {Entry[]} */ const failures = [];
  /** @type {Entry[]} */ const skips = [];

  for await (const event of source) {
    const d = event.data ?? {};
    if (d.nesting !== 0 || !d.file) continue;
    const file = realPath(d.file);
    const isFileItself = d.name === d.file; // node:test's stand-in for the whole file (process isolation)
    switch (event.type) {
      case 'test:enqueue':
        if (!isFileItself) fileOf(file).enqueued.add(d.name);
        break;
      case 'test:plan':
        fileOf(file).planned = d.count;
        break;
      case 'test:pass':
      case 'test:fail': {
        if (isFileItself) break; // judged on test:complete below, once per file
        const s = fileOf(file);
        s.finished.add(d.name);
        if (d.skip !== undefined || d.todo !== undefined) {
          const why = d.skip ?? d.todo;
          skips.push({ file, name: d.name, reason: typeof why === 'string' && why ? why : '(no reason given)' });
        } else if (event.type === 'test:pass') {
          passed++;
        } else {
          s.failed++;
          failures.push({ file, name: d.name, reason: errorText(d.details?.error) });
        }
        break;
      }
      case 'test:complete':
        // Sent when the file's process ends, possibly before its results above (those come in file order):
        // so each file is judged after the last event.
        if (isFileItself) fileOf(file).ended = { error: d.details?.error };
        break;
    }
  }
  for (const [file, s] of files) {
    if (s.ended) judgeFile(file, s, failures);
    else failures.push({ file, name: '(file)', reason: 'never ended (the run was stopped?)' });
  }
  yield JSON.stringify({ passed, failed: failures.length, skipped: skips.length, failures, skips }, null, 2) + '\n';
}

/** Adds a failure for a file that ended early, reported no test, or whose process failed beyond its tests. */
function judgeFile(file, s, failures) {
  const error = s.ended.error;
  const missing = [...s.enqueued].filter((n) => !s.finished.has(n));
  if (missing.length) {
    failures.push({
      file,
      name: '(file)',
      reason: `ended early: ${missing.length} of ${s.enqueued.size} tests never finished: ${missing.join('; ')}`,
    });
  } else if (s.planned !== undefined && s.finished.size < s.planned) {
    failures.push({ file, name: '(file)', reason: `ended early: ${s.finished.size} of ${s.planned} planned tests finished` });
  } else if (s.finished.size === 0) {
    failures.push({
      file,
      name: '(file)',
      reason: error ? `failed before any test finished: ${errorText(error)}` : 'ended before reporting any test (exited early?)',
    });
  } else if (error && s.failed === 0) {
    failures.push({ file, name: '(file)', reason: `the test process failed after its tests: ${errorText(error)}` });
  }
}

function errorText(error) {
  if (!error) return 'failed';
  const inner = error.cause instanceof Error ? error.cause : error;
  const text = String(inner.message ?? inner).split('\n').find((l) => l.trim()) ?? 'failed';
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}
