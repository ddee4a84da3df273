// An --allow entry may name one port, so an exit can open one local service (the demo's web server) without
// opening every loopback service of its machine to the mesh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPolicy, parseCidr } from '../../../src/apps/socks/index.js';

test('--allow ADDRESS:PORT permits that port only; a bare CIDR still permits every port', () => {
  const one = new AddressPolicy([parseCidr('127.0.0.1:7180')]);
  assert.equal(one.refusal('127.0.0.1', 7180), null);
  assert.match(one.refusal('127.0.0.1', 7999) ?? '', /127\.0\.0\.1 port 7999 is in 127\.0\.0\.0\/8, which is not allowed/);
  assert.notEqual(one.refusal('127.0.0.2', 7180), null, 'another address of the range');
  assert.equal(one.refusal('::ffff:127.0.0.1', 7180), null, 'judged as the IPv4 it embeds');
  assert.equal(new AddressPolicy([parseCidr('10.0.0.0/8:80')]).refusal('10.1.2.3', 80), null);
  assert.notEqual(new AddressPolicy([parseCidr('10.0.0.0/8:80')]).refusal('10.1.2.3', 443), null);
  assert.equal(new AddressPolicy([parseCidr('[::1]:7180')]).refusal('::1', 7180), null);
  assert.notEqual(new AddressPolicy([parseCidr('[::1]:7180')]).refusal('::1', 22), null);
  assert.equal(new AddressPolicy([parseCidr('127.0.0.0/8')]).refusal('127.0.0.1', 7999), null);
  assert.equal(parseCidr('::1').prefix, 128, 'a bare IPv6 address is not read as ADDRESS:PORT');
  assert.throws(() => parseCidr('127.0.0.1:0'), /port must be 1-65535/);
  assert.throws(() => parseCidr('127.0.0.1:70000'), /port must be 1-65535/);
  assert.throws(() => parseCidr('localhost:80'), /is not a CIDR/);
});
