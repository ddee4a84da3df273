// The second test ends the whole process with code 0 before anything was reported; the third never runs.
import { test } from 'node:test';
test('first', () => {});
test('exits', () => process.exit(0));
test('never runs', () => {});
