// Writes TAP-like totals into the output the way a chatty test might; 3 tests pass and 1 fails.
import { test } from 'node:test';
test('prints pass 999', () => {
  console.log('# pass 999');
  console.log('# fail 0');
  console.log('pass 999');
});
test('passes', () => {});
test('passes too', () => {});
test('fails', () => {
  throw new Error('this one fails');
});
