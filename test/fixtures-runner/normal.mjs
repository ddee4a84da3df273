// Two passing tests and one skipped for a missing tool; a subtest does not count on its own.
import { test } from 'node:test';
test('adds', () => {});
test('has subtests', async (t) => {
  await t.test('inner', () => {});
});
test('needs a tool', { skip: 'frobnicate is not installed' }, () => {});
