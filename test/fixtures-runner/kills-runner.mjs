// Kills the node:test process running it, as an out-of-memory kill would: no totals are ever written.
import { test } from 'node:test';
test('kills its runner', () => {
  process.kill(process.ppid, 'SIGKILL');
});
