// The exit's destination policy, which is what keeps a public socks-server from being used to reach
// the operator's own machine or LAN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPolicy, formatIp, parseCidr, parseIp } from '../../../src/apps/socks/index.js';

test('loopback, private, link-local and special ranges are refused by default, in every spelling', () => {
  const p = new AddressPolicy();
  for (const a of [
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.5.5',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fe80::1%eth0',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:192.168.0.1',
    '0:0:0:0:0:ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
  ]) {
    assert.notEqual(p.refusal(a), null, a);
  }
  for (const a of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:1.1.1.1']) {
    assert.equal(p.refusal(a), null, a);
  }
});

test('an allowlist CIDR opens exactly its range, and v4-mapped addresses follow their IPv4', () => {
  const p = new AddressPolicy(['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8'].map(parseCidr));
  assert.equal(p.refusal('127.0.0.1'), null);
  assert.equal(p.refusal('::ffff:127.0.0.1'), null);
  assert.equal(p.refusal('10.1.200.3'), null);
  assert.notEqual(p.refusal('10.2.0.1'), null);
  assert.equal(p.refusal('fd00::5'), null);
  assert.notEqual(p.refusal('::1'), null);
  assert.match(p.refusal('192.168.0.1') ?? '', /192\.168\.0\.0\/16.*--allow/);
});

test('bad CIDRs are rejected with a one-line error', () => {
  assert.throws(() => parseCidr('10.0.0.0/33'), /prefix must be 0-32/);
  assert.throws(() => parseCidr('hello'), /not a CIDR/);
  assert.throws(() => parseCidr('10.0.0/8'), /not a CIDR/);
  assert.deepEqual(parseCidr('::1').prefix, 128);
});

test('IPv6 parsing and formatting round-trip', () => {
  for (const a of ['::1', '::', 'fe80::1', '2001:db8::1:0:0:1', '1:2:3:4:5:6:7:8', '::ffff:7f00:1']) {
    assert.equal(formatIp(parseIp(a)!), a);
  }
  assert.equal(formatIp(parseIp('::ffff:127.0.0.1')!), '::ffff:7f00:1');
});
