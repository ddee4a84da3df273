// The first test is reported, then the second ends the process with code 0; the third never runs.
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
test('first', () => {});
test('exits after a while', async () => {
  await delay(200); // lets the first result reach the runner before the exit
  process.exit(0);
});
test('never runs', () => {});
