// The one table and byte formatter of the CLI and the desktop: columns never run together whatever a cell's
// length (`node status` printed fixed widths, so a long route ran into the next column), sizes in binary units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, table } from '../../src/util/text-table.js';

test('columns are as wide as their widest cell and always two spaces apart; the last may be cut to a width', () => {
  const long = 'r'.repeat(40);
  const text = table(['ROUTE ID', 'ROUTE', 'IN'], [['1', long, '1.0 KiB'], ['123456789012', 'x', '2 B']]);
  const lines = text.split('\n');
  assert.equal(lines[0], `ROUTE ID      ROUTE${' '.repeat(37)}IN`);
  assert.equal(lines[1], `1             ${long}  1.0 KiB`);
  assert.equal(lines[2], `123456789012  x${' '.repeat(41)}2 B`);
  const cut = table(['A', 'ARGS'], [['1', 'y'.repeat(50)]], 20).split('\n')[1];
  assert.equal(cut, `1  ${'y'.repeat(16)}…`);
  assert.equal(cut.length, 20);
});

test('bytes are in binary units everywhere', () => {
  assert.deepEqual([0, 1023, 1536, 5 * 1024 * 1024, 3 * 1024 ** 3, 2 * 1024 ** 4].map(formatBytes), ['0 B', '1023 B', '1.5 KiB', '5.0 MiB', '3.00 GiB', '2.00 TiB']);
});
