// What a local program sees for every kind of bad or unsupported SOCKS5 input: the exact reply bytes
// (RFC 1928 / RFC 1929) or a close, and the socks-client keeps serving the next connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { SocksClient as SocksLib } from 'socks';
import { connectDomain, connectV4, exchange, hex, startHttpTarget, startRig } from './helpers.js';

const GREET = Buffer.from([5, 1, 0]);
const NO_AUTH = '0500';
const REP = (code: number) => `05${code.toString(16).padStart(2, '0')}000100000000` + '0000';

test('garbage and a wrong version byte are closed without a reply', async (t) => {
  const { socksPort } = await startRig(t);
  assert.equal(hex(await exchange(socksPort, Buffer.from('GET / HTTP/1.1\r\n\r\n'))), '');
  assert.equal(hex(await exchange(socksPort, Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]))), ''); // SOCKS4
});

test('no acceptable method gets 05 FF', async (t) => {
  const { socksPort } = await startRig(t);
  assert.equal(hex(await exchange(socksPort, Buffer.from([5, 1, 2]))), '05ff'); // only user/pass offered
  assert.equal(hex(await exchange(socksPort, Buffer.from([5, 0]))), '05ff'); // no methods at all
});

test('BIND and UDP ASSOCIATE get 0x07 command not supported, unknown ATYP gets 0x08', async (t) => {
  const { socksPort } = await startRig(t);
  const bind = await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', 80, 2)]));
  assert.equal(hex(bind), NO_AUTH + REP(7));
  const udp = await exchange(socksPort, Buffer.concat([GREET, connectV4('0.0.0.0', 0, 3)]));
  assert.equal(hex(udp), NO_AUTH + REP(7));
  const atyp = await exchange(socksPort, Buffer.concat([GREET, Buffer.from([5, 1, 0, 9, 1, 2, 3, 4, 0, 80])]));
  assert.equal(hex(atyp), NO_AUTH + REP(8));
});

test('a wrong version in the request gets 0x01 general failure', async (t) => {
  const { socksPort } = await startRig(t);
  const r = await exchange(socksPort, Buffer.concat([GREET, Buffer.from([4, 1, 0, 1, 127, 0, 0, 1, 0, 80])]));
  assert.equal(hex(r), NO_AUTH + REP(1));
});

test('a 255-byte domain name (longer than DNS allows) gets 0x04 host unreachable', async (t) => {
  const { socksPort } = await startRig(t);
  const r = await exchange(socksPort, Buffer.concat([GREET, connectDomain('a'.repeat(255), 80)]));
  assert.equal(hex(r), NO_AUTH + REP(4));
});

test('a truncated request followed by EOF is closed after the method reply', async (t) => {
  const { socksPort, client } = await startRig(t);
  const r = await exchange(socksPort, Buffer.concat([GREET, Buffer.from([5, 1, 0, 1, 127, 0])]), { end: true });
  assert.equal(hex(r), NO_AUTH);
  if (client.connections) await once(client, 'connection-closed');
  assert.equal(client.connections, 0);
});

test('a program that disconnects half-way is cleaned up and others are still served', async (t) => {
  const target = await startHttpTarget(t);
  const { socksPort, client } = await startRig(t);
  const s = connect({ host: '127.0.0.1', port: socksPort });
  await once(s, 'connect');
  s.write(Buffer.from([5, 1, 0, 5, 1]));
  await once(s, 'data');
  const closed = once(client, 'connection-closed');
  s.destroy();
  await closed;
  assert.equal(client.connections, 0);
  const { socket } = await SocksLib.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: target.port },
  });
  socket.end('GET / HTTP/1.0\r\n\r\n');
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  assert.match(Buffer.concat(chunks).toString(), /hello$/);
});

test('a silent connection is closed after the handshake time limit', async (t) => {
  const { socksPort, client } = await startRig(t, { client: { handshakeTimeoutMs: 200 } });
  const s = connect({ host: '127.0.0.1', port: socksPort });
  s.on('error', () => {});
  await once(s, 'connect');
  s.resume();
  await once(s, 'close');
  if (client.connections) await once(client, 'connection-closed');
  assert.equal(client.connections, 0);
});

test('username/password (RFC 1929): right credentials pass, wrong ones get 01 01', async (t) => {
  const target = await startHttpTarget(t);
  const { socksPort } = await startRig(t, { client: { auth: { user: 'alice', pass: 's3cret' } } });
  const auth = (u: string, p: string) =>
    Buffer.from([1, u.length, ...Buffer.from(u), p.length, ...Buffer.from(p)]);
  const wrong = await exchange(socksPort, Buffer.concat([Buffer.from([5, 1, 2]), auth('alice', 'nope')]));
  assert.equal(hex(wrong), '0502' + '0101');
  const noauth = await exchange(socksPort, GREET);
  assert.equal(hex(noauth), '05ff');
  const { socket } = await SocksLib.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5, userId: 'alice', password: 's3cret' },
    command: 'connect',
    destination: { host: '127.0.0.1', port: target.port },
  });
  socket.end('GET / HTTP/1.0\r\n\r\n');
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  assert.match(Buffer.concat(chunks).toString(), /hello$/);
});

test('request bytes sent before the reply (pipelined) reach the target', async (t) => {
  const target = await startHttpTarget(t);
  const { socksPort } = await startRig(t);
  const req = Buffer.from('GET / HTTP/1.0\r\n\r\n');
  const r = await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', target.port), req]), { end: true });
  assert.equal(hex(r.subarray(0, 6)), '050005000001');
  assert.match(r.subarray(12).toString(), /^HTTP\/1\.1 200 OK[\s\S]*hello$/);
});
