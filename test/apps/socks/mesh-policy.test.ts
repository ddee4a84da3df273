// The exit's policy over the real mesh, with keys the nodes authenticated: a messenger, a node manager and
// four nodes (A, C and D each connected to B), a socks-server beside C with `--clients <A's node key>`, and
// socks-clients beside A and D asking for 2-hop routes through B. A's client gets through (IPv4 and IPv6
// targets); D's, a key the exit never saw, gets 0x02; and every reply code the docs promise for a route-level
// failure (refused, unreachable, no service, name not found, destination not allowed, connect timeout) comes back
// as that code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, pkToHex, writeKeyFile } from '../../../src/net/keys.js';
import { connectDomain, connectV4, exchange, hex, startBlackhole, startHttpTarget } from './helpers.js';
import { meshHas, start } from './mesh.js';

const GREET = Buffer.from([5, 1, 0]);
/** What the socks-client answers a request that fails with `code`: method reply, then `05 REP 00 01 0.0.0.0:0`. */
const FAILED = (code: number) => `0500` + `05${code.toString(16).padStart(2, '0')}000100000000` + '0000';

function connectV6(bytes: number[], port: number): Buffer {
  return Buffer.from([5, 1, 0, 4, ...bytes, port >> 8, port & 0xff]);
}
const V6_LOOPBACK = [...Array(15).fill(0), 1];

/** A SOCKS5 CONNECT that should succeed: returns the reply and what the target answers to an HTTP GET. */
async function fetchThrough(socksPort: number, request: Buffer): Promise<{ reply: Buffer; body: string }> {
  const s = connect({ host: '127.0.0.1', port: socksPort });
  s.on('error', () => {});
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.write(Buffer.concat([GREET, request, Buffer.from('GET / HTTP/1.0\r\nHost: x\r\n\r\n')]));
  await once(s, 'close');
  const all = Buffer.concat(chunks);
  const replyLen = all[3 + 2] === 4 ? 22 : 10; // after the 2-byte method reply: IPv6 or IPv4 bound address
  return { reply: all.subarray(2, 2 + replyLen), body: all.subarray(2 + replyLen).toString() };
}

test('--clients over the real mesh: the allowed node key gets through, another node gets 0x02, every failure its code', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socks-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const v4 = await startHttpTarget(t, '127.0.0.1');
  const v6 = await startHttpTarget(t, '::1');
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const closedPort = (closed.address() as AddressInfo).port;
  closed.close(); // nothing listens there any more: connection refused
  const blackhole = await startBlackhole(t); // connects there hang

  const m = await start(t, ['messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json'), '--json'], /^\{/);
  const messenger = (JSON.parse(m.line) as { address: string }).address;
  const nm = await start(t, ['node-manager', '--key', join(dir, 'nm.json'), '--messenger', messenger, '--web', '127.0.0.1:0', '--json'], /^\{/);
  const { pk: managerPk, dashboard } = JSON.parse(nm.line) as { pk: string; dashboard: string };
  const keys = Object.fromEntries(
    ['a', 'b', 'c', 'd'].map((n) => {
      const kp = generateKeyPair();
      writeKeyFile(join(dir, `${n}.json`), kp);
      return [n, pkToHex(kp.publicKey)];
    }),
  );
  const node = (n: string, extra: string[] = []) =>
    start(t, ['node', '--key', join(dir, `${n}.json`), '--messenger', messenger, '--manager', managerPk, '--json', ...extra], /^\{/);
  await node('b');
  const routable = meshHas(dashboard, [[keys.a, keys.b], [keys.b, keys.c], [keys.d, keys.b]]);
  await Promise.all(['a', 'c', 'd'].map((n) => node(n, ['--connect', keys.b])));

  const server = await start(
    t,
    ['socks-server', '--api-file', join(dir, 'c.api.json'), '--clients', keys.a, '--allow', '127.0.0.0/8', '--allow', '::1/128', '--connect-timeout', '500'],
    /^socks-server: serving mesh port/,
    { LOG_LEVEL: 'info' },
  );
  let serverLog = '';
  const logWaiters = new Set<() => void>();
  server.proc.stderr!.on('data', (c: Buffer) => {
    serverLog += c.toString();
    for (const w of logWaiters) w();
  });
  /** Resolves when the exit has logged a line matching `re` (its log arrives on a pipe, after the reply). */
  const logged = (re: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (re.test(serverLog)) {
          logWaiters.delete(check);
          resolve();
        }
      };
      logWaiters.add(check);
      check();
    });
  const client = async (n: string, serverArg: string) => {
    const sc = await start(
      t,
      ['socks-client', '--api-file', join(dir, `${n}.api.json`), '--listen', '127.0.0.1:0', '--server', serverArg, '--hops', '2', '--name', `socks-${n}`],
      /^socks-client: SOCKS5 on/,
    );
    return Number(/127\.0\.0\.1:(\d+)/.exec(sc.line)![1]);
  };
  const [fromA, fromD, toNobody, toNoService] = await Promise.all([
    client('a', keys.c),
    client('d', keys.c),
    client('a', pkToHex(generateKeyPair().publicKey)), // a key no node holds
    client('a', keys.b), // a node where nothing serves port 1080
  ]);
  await routable;

  // A's node key is on --clients: IPv4 and IPv6 targets through the 2-hop route.
  const viaV4 = await fetchThrough(fromA, connectV4('127.0.0.1', v4.port));
  assert.equal(viaV4.reply[1], 0x00, hex(viaV4.reply));
  assert.match(viaV4.body, /200 OK[\s\S]*hello$/);
  const viaV6 = await fetchThrough(fromA, connectV6(V6_LOOPBACK, v6.port));
  assert.equal(hex(viaV6.reply.subarray(0, 4)), '05000004', 'success, bound address IPv6');
  assert.deepEqual([...viaV6.reply.subarray(4, 20)], V6_LOOPBACK, 'the exit connected from ::1');
  assert.match(viaV6.body, /200 OK[\s\S]*hello$/);
  await logged(new RegExp(`"msg":"connected","from":"${keys.a.slice(0, 8)}"`)); // the key node A authenticated

  // D is a real node with a real route to C, but its key is not on --clients.
  assert.equal(hex(await exchange(fromD, Buffer.concat([GREET, connectV4('127.0.0.1', v4.port)]))), FAILED(0x02));
  await logged(new RegExp(`"msg":"refused","from":"${keys.d.slice(0, 8)}".*"reason":"client key is not in --clients"`));

  // Failures along the route and at the exit, each its documented code.
  const cases: Array<[string, number, Buffer]> = [
    ['destination outside the allowed ranges', 0x02, connectV4('10.1.2.3', 80)],
    ['target refused the connection', 0x05, connectV4('127.0.0.1', closedPort)],
    ['name does not resolve at the exit', 0x04, connectDomain('no-such-host.invalid', 80)],
    ['target does not answer within --connect-timeout', 0x06, connectV4('127.0.0.1', blackhole)],
  ];
  for (const [what, code, req] of cases) {
    assert.equal(hex(await exchange(fromA, Buffer.concat([GREET, req]))), FAILED(code), what);
  }
  assert.equal(hex(await exchange(toNobody, Buffer.concat([GREET, connectV4('127.0.0.1', v4.port)]))), FAILED(0x03), 'no such node: unreachable');
  assert.equal(hex(await exchange(toNoService, Buffer.concat([GREET, connectV4('127.0.0.1', v4.port)]))), FAILED(0x01), 'nothing serves the port: general failure');
});
