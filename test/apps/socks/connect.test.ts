// End-to-end through socks-client -> (loopback stand-in for the mesh) -> exit -> target: real SOCKS
// clients (the npm `socks` library and curl) reach IPv4, IPv6 and names resolved at the exit, and each
// failure at the exit comes back as the right SOCKS5 reply code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { SocksClient as SocksLib } from 'socks';
import { connectDomain, connectV4, exchange, hex, readAtLeast, startBlackhole, startHttpTarget, startRig } from './helpers.js';

const GREET = Buffer.from([5, 1, 0]);
const REP = (code: number) => `0500` + `05${code.toString(16).padStart(2, '0')}000100000000` + '0000';

async function httpGet(socksPort: number, host: string, port: number, path = '/'): Promise<string> {
  const { socket } = await SocksLib.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
    command: 'connect',
    destination: { host, port },
  });
  socket.end(`GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

function curl(args: string[]): Promise<{ code: number | null; sha: string; bytes: number }> {
  const p = spawn('curl', ['-sS', '--max-time', '20', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const h = createHash('sha256');
  let bytes = 0;
  p.stdout.on('data', (c: Buffer) => {
    h.update(c);
    bytes += c.length;
  });
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, sha: h.digest('hex'), bytes }));
  });
}

test('npm socks client reaches an IPv4 address, ::1 and "localhost" (resolved at the exit)', async (t) => {
  const v4 = await startHttpTarget(t, '127.0.0.1');
  const v6 = await startHttpTarget(t, '::1');
  const { socksPort } = await startRig(t);
  assert.match(await httpGet(socksPort, '127.0.0.1', v4.port), /200 OK[\s\S]*hello$/);
  assert.match(await httpGet(socksPort, '::1', v6.port), /200 OK[\s\S]*hello$/);
  // "localhost" may resolve to ::1 first; the exit tries each allowed address in turn.
  assert.match(await httpGet(socksPort, 'localhost', v4.port), /200 OK[\s\S]*hello$/);
});

test('curl --socks5-hostname fetches a page and a large file intact', async (t) => {
  const target = await startHttpTarget(t, '127.0.0.1', 16 * 1024 * 1024);
  const { socksPort } = await startRig(t);
  const proxy = ['--socks5-hostname', `127.0.0.1:${socksPort}`];
  const page = await curl([...proxy, `http://localhost:${target.port}/`]);
  assert.equal(page.code, 0);
  assert.equal(page.sha, createHash('sha256').update('hello').digest('hex'));
  const big = await curl([...proxy, `http://localhost:${target.port}/big`]);
  assert.equal(big.code, 0);
  assert.equal(big.bytes, target.big.length);
  assert.equal(big.sha, target.bigSha);
});

test('exit failures map to SOCKS5 codes: refused 0x05, timeout 0x06, unknown name 0x04', async (t) => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as AddressInfo).port;
  closed.close(); // nothing listens there now
  const blackhole = await startBlackhole(t);
  // The client would wait a minute for the exit's reply: a 0x06 can only be the exit's 500 ms connect timeout.
  const { socksPort } = await startRig(t, { exit: { connectTimeoutMs: 500 }, client: { replyTimeoutMs: 60_000 } });
  assert.equal(hex(await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', deadPort)]))), REP(5));
  assert.equal(hex(await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', blackhole)]))), REP(6));
  const nx = await exchange(socksPort, Buffer.concat([GREET, connectDomain('no-such-host.invalid', 80)]));
  assert.equal(hex(nx), REP(4));
});

test('private and loopback destinations are refused with 0x02 unless allowed, including by resolved name', async (t) => {
  const target = await startHttpTarget(t);
  const { socksPort } = await startRig(t, { allow: [] });
  const cases = [
    connectV4('127.0.0.1', target.port),
    connectV4('10.1.2.3', 80),
    connectV4('169.254.169.254', 80),
    connectDomain('localhost', target.port), // resolves to loopback at the exit
    connectDomain('127.0.0.1', target.port),
    // ::ffff:127.0.0.1 (v4-mapped) as ATYP 4
    Buffer.from([5, 1, 0, 4, ...Buffer.from('00000000000000000000ffff7f000001', 'hex'), target.port >> 8, target.port & 255]),
  ];
  for (const req of cases) {
    assert.equal(hex(await exchange(socksPort, Buffer.concat([GREET, req]))), REP(2), hex(req));
  }
});

test('an exit restricted by client key refuses other keys with 0x02', async (t) => {
  const target = await startHttpTarget(t);
  const { socksPort } = await startRig(t, { pk: 'cd'.repeat(33), exit: { clients: new Set(['ab'.repeat(33)]) } });
  assert.equal(hex(await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', target.port)]))), REP(2));
});

test('an unreachable socks-server gets 0x03, a silent one 0x06 after the reply timeout', async (t) => {
  const unreachable = await startRig(t, {
    client: { dial: () => Promise.reject(Object.assign(new Error('no route to that key'), { code: 'no_route' })) },
  });
  const r1 = await exchange(unreachable.socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', 80)]));
  assert.equal(hex(r1), REP(3));

  const silent = createServer((s) => s.resume()); // accepts the stream, never answers
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => silent.close());
  const { port } = silent.address() as AddressInfo;
  const { socksPort } = await startRig(t, {
    client: {
      replyTimeoutMs: 300,
      dial: async () => {
        const s = (await import('node:net')).connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      },
    },
  });
  assert.equal(hex(await exchange(socksPort, Buffer.concat([GREET, connectV4('127.0.0.1', 80)]))), REP(6));
});

test('when the socks-server process dies mid-stream the local connection is closed', async (t) => {
  const target = await startHttpTarget(t);
  const exitProc = spawn(process.execPath, [new URL('./exit-process.js', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => exitProc.kill('SIGKILL'));
  const [line] = (await once(exitProc.stdout!, 'data')) as [Buffer];
  const meshPort = Number(line.toString().trim());
  const { socksPort } = await startRig(t, {
    client: {
      dial: async () => {
        const s = (await import('node:net')).connect({ port: meshPort, host: '127.0.0.1', allowHalfOpen: true });
        await once(s, 'connect');
        return s;
      },
    },
  });
  const { socket } = await SocksLib.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: target.port },
  });
  socket.on('error', () => {});
  socket.write('GET /stream HTTP/1.0\r\n\r\n');
  await readAtLeast(socket, 256 * 1024); // data is flowing through the exit
  const closed = once(socket, 'close');
  exitProc.kill('SIGKILL');
  socket.resume();
  await closed;
  assert.ok(socket.destroyed);
});
