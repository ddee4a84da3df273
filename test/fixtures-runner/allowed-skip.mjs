// One passing test and one skip marked as expected in CI.
import { test } from 'node:test';
test('adds', () => {});
test('needs a second machine', { skip: '[expected in CI] a second machine is not part of CI' }, () => {});
