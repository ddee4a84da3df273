// The one CIDR / address parser of the CLI (src/util/cidr.ts), at the function level; the flags that use it
// are tested through the real CLI in cidr-options.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, formatIp, networkOf, parseCidr, parseIp, parseIpAddress } from '../../src/util/cidr.js';

test('ranges, bare addresses and one-port entries parse to bytes', () => {
  const v4 = parseCidr('10.1.0.0/16');
  assert.deepEqual([formatIp(v4.bytes), v4.prefix, v4.port], ['10.1.0.0', 16, undefined]);
  assert.equal(parseCidr('::1').prefix, 128, 'a bare IPv6 address is a /128');
  assert.equal(parseCidr(' 192.168.1.7 ').prefix, 32, 'trimmed; a bare IPv4 address is a /32');
  assert.deepEqual(parseCidr('10.0.0.0/8:80', { port: true }).port, 80);
  assert.deepEqual(parseCidr('[fd00::/8]:443', { port: true }).port, 443);
  assert.throws(() => parseCidr('127.0.0.1:80'), /"127\.0\.0\.1:80" is not a CIDR such as 10\.0\.0\.0\/8 or fd00::\/8$/, 'no port unless asked for');
  assert.ok(cidrContains(parseCidr('fd00::/8'), parseIp('fdab::1')!));
  assert.ok(!cidrContains(parseCidr('10.0.0.0/8'), parseIp('::ffff:10.0.0.1')!), 'families never mix');
});

test('strict ranges refuse host bits, in both families, with the network to use', () => {
  assert.throws(() => parseCidr('fd00::1/64', { strict: true, flag: '--x' }), /^Error: --x "fd00::1\/64" has host bits set; did you mean fd00::\/64\?$/);
  assert.equal(formatIp(networkOf(parseCidr('10.1.2.3/12'))), '10.0.0.0');
  assert.doesNotThrow(() => parseCidr('0.0.0.0/0', { strict: true }));
});

test('family and bare rules, and single addresses', () => {
  assert.throws(() => parseCidr('10.0.0.0/8', { family: 6, flag: '--v6' }), /^Error: --v6 "10\.0\.0\.0\/8" is not an IPv6 range \(such as fd00::\/8\)$/);
  assert.throws(() => parseCidr('10.0.0.1', { bare: false }), /needs a \/PREFIX/);
  assert.equal(formatIp(parseIpAddress('::ffff:1.2.3.4')), '::ffff:102:304');
  assert.throws(() => parseIpAddress('1.2.3.4', '--peer', 6), /^Error: --peer "1\.2\.3\.4" is not an IPv6 address$/);
  assert.throws(() => parseIpAddress('999.1.1.1', '--peer'), /is not an IP address$/);
});
