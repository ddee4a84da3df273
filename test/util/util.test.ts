import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/util/backoff.js';
import { parseHostPort, formatHostPort } from '../../src/util/hostport.js';

test('backoff grows and is capped, and reset starts over', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
});

test('host:port parsing accepts IPv4, names and bracketed IPv6, and names what is wrong', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:7999'), { host: '127.0.0.1', port: 7999 });
  assert.deepEqual(parseHostPort('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parseHostPort('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseHostPort('9000', '127.0.0.1'), { host: '127.0.0.1', port: 9000 });
  assert.equal(formatHostPort({ host: '::1', port: 5 }), '[::1]:5');
  assert.throws(() => parseHostPort('host:abc'), /port "abc" is not a number/);
  assert.throws(() => parseHostPort('host:70000'), /out of range/);
  assert.throws(() => parseHostPort('::1:80'), /brackets/);
  assert.throws(() => parseHostPort('nohost'), /not HOST:PORT/);
});
