// The whole thing as a user runs it: a messenger, a node manager and three nodes (A - B - C, each its own
// process), a socks-server beside C and a socks-client beside A asking for a 2-hop route, so traffic
// crosses B. curl fetches a page and a 100 MB file through it, checked by SHA-256, and B's counters show
// the bytes went through it. The first request waits for an event, not a retry loop: the node manager's
// dashboard pushing a snapshot in which the A-B and B-C transports exist (the graph routes are computed on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyPair, pkToHex, writeKeyFile } from '../../../src/net/keys.js';
import { SignalServer } from '../../../src/signal/index.js';
import { once } from 'node:events';
import { SocksClient as SocksLib } from 'socks';
import { generatedSha, readAtLeast, startHttpTarget } from './helpers.js';
import { CLI, meshHas, start } from './mesh.js';

const run = promisify(execFile);

/** The size of the file fetched through the mesh (the acceptance: 100 MB, SHA-256 checked). */
const BIG = 100 * 1024 * 1024;

function curl(args: string[], maxTimeS = 30): Promise<{ code: number | null; sha: string; bytes: number; stderr: string }> {
  const p = spawn('curl', ['-sS', '--max-time', String(maxTimeS), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const h = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => {
    h.update(c);
    bytes += c.length;
  });
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, sha: h.digest('hex'), bytes, stderr }));
  });
}

test('curl through socks-client (node A) -> B -> C -> socks-server reaches the target intact', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socks-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const target = await startHttpTarget(t, '127.0.0.1', 1024);

  const m = await start(t, ['messenger', '--listen', '127.0.0.1:0', '--key', join(dir, 'm.json'), '--json'], /^\{/);
  const messenger = (JSON.parse(m.line) as { address: string }).address; // PK@HOST:PORT
  const nm = await start(
    t,
    ['node-manager', '--key', join(dir, 'nm.json'), '--messenger', messenger, '--web', '127.0.0.1:0', '--json'],
    /^\{/,
  );
  const { pk: managerPk, dashboard } = JSON.parse(nm.line) as { pk: string; dashboard: string };

  const keys = Object.fromEntries(
    ['a', 'b', 'c'].map((n) => {
      const kp = generateKeyPair();
      writeKeyFile(join(dir, `${n}.json`), kp);
      return [n, pkToHex(kp.publicKey)];
    }),
  );
  const node = (n: string, extra: string[] = []) =>
    start(
      t,
      ['node', '--key', join(dir, `${n}.json`), '--messenger', messenger, '--manager', managerPk, '--json', ...extra],
      /^\{/,
    );
  await node('b');
  const routable = meshHas(dashboard, [
    [keys.a, keys.b],
    [keys.b, keys.c],
  ]);
  await Promise.all([node('a', ['--connect', keys.b]), node('c', ['--connect', keys.b])]);

  const srv = await start(
    t,
    ['socks-server', '--api-file', join(dir, 'c.api.json'), '--allow', '127.0.0.0/8', '--allow', '::1/128'],
    /^socks-server: serving mesh port/,
  );
  const sc = await start(
    t,
    ['socks-client', '--api-file', join(dir, 'a.api.json'), '--listen', '127.0.0.1:0', '--server', keys.c, '--hops', '2'],
    /^socks-client: SOCKS5 on/,
  );
  // The exit is discoverable: `skywire services socks` lists it, with the mesh port it registered.
  const svc = await run(process.execPath, [CLI, 'services', 'socks', '--messenger', messenger, '--json']);
  assert.deepEqual(
    (JSON.parse(svc.stdout) as Array<{ pk: string; port: number }>).map((r) => [r.pk, r.port]),
    [[keys.c, 1080]],
  );
  const socksPort = Number(/127\.0\.0\.1:(\d+)/.exec(sc.line)![1]);
  const proxy = ['--socks5-hostname', `127.0.0.1:${socksPort}`];

  // The manager learns of the A-B and B-C transports as the nodes report them; until then there is no
  // route (SOCKS reply 0x03). Once its dashboard shows both, the very first request must work.
  const readyWait = Date.now();
  await routable;
  t.diagnostic(`route ready ${Date.now() - readyWait} ms after the socks-client's ready line`);
  const page = await curl([...proxy, `http://localhost:${target.port}/`]);
  assert.equal(page.code, 0, page.stderr);
  assert.equal(page.sha, createHash('sha256').update('hello').digest('hex'));

  // 100 MB, made by the target as it is sent and hashed by the test as it arrives (never held in memory).
  const fetchStarted = Date.now();
  const [big, bigSha] = await Promise.all([
    curl([...proxy, `http://localhost:${target.port}/gen/${BIG}`], 110),
    generatedSha(BIG),
  ]);
  assert.equal(big.code, 0, big.stderr);
  assert.equal(big.bytes, BIG);
  assert.equal(big.sha, bigSha);
  const fetchMs = Date.now() - fetchStarted;
  t.diagnostic(`100 MB through A -> B -> C in ${fetchMs} ms (${((BIG / 1024 / 1024) / (fetchMs / 1000)).toFixed(1)} MB/s)`);

  // --server auto finds the exit through the messenger (service "socks") without being told its key.
  // This one runs as Viscript would start it: a signal client that can be pinged and shut down.
  const signal = new SignalServer({ port: 0 });
  const { port: signalPort } = await signal.listen();
  t.after(() => signal.close());
  signal.expect(7, 'secret-7');
  const registered = once(signal, 'register');
  const auto = await start(
    t,
    ['socks-client', '--api-file', join(dir, 'a.api.json'), '--listen', '127.0.0.1:0', '--server', 'auto', '--name', 'socks-auto'],
    /^socks-client: SOCKS5 on/,
    { SIGNAL_CLIENT: 'true', SIGNAL_SERVER_ADDRESS: `127.0.0.1:${signalPort}`, SIGNAL_CLIENT_ID: '7', SIGNAL_TOKEN: 'secret-7' },
  );
  await registered;
  assert.ok((await signal.ping(7)) >= 0);
  const autoPort = Number(/127\.0\.0\.1:(\d+)/.exec(auto.line)![1]);
  const viaAuto = await curl(['--socks5-hostname', `127.0.0.1:${autoPort}`, `http://127.0.0.1:${target.port}/`]);
  assert.equal(viaAuto.code, 0, viaAuto.stderr);
  assert.equal(viaAuto.sha, page.sha);

  // A signal SHUTDOWN (Viscript's "sd") stops it cleanly, and so does SIGTERM for the other client.
  const exited = new Promise<number | null>((resolve) => auto.proc.once('exit', (code) => resolve(code)));
  assert.equal((await signal.shutdown(7)).Pid, auto.proc.pid);
  assert.equal(await exited, 0);

  // The socks-server dies mid-stream: the local connection is closed, not left hanging.
  const { socket } = await SocksLib.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: target.port },
  });
  socket.on('error', () => {});
  socket.write('GET /stream HTTP/1.0\r\n\r\n');
  await readAtLeast(socket, 256 * 1024);
  const closed = once(socket, 'close');
  process.kill(-srv.proc.pid!, 'SIGKILL');
  socket.resume();
  await closed;

  const { stdout } = await run(process.execPath, [CLI, 'node', 'status', '--api-file', join(dir, 'b.api.json'), '--json']);
  const status = JSON.parse(stdout) as { transports: Array<{ pk: string; bytesIn: number; bytesOut: number }> };
  const fromC = status.transports.find((x) => x.pk === keys.c);
  const toA = status.transports.find((x) => x.pk === keys.a);
  assert.ok(fromC && fromC.bytesIn >= BIG, `node B received ${fromC?.bytesIn} bytes from C`);
  assert.ok(toA && toA.bytesOut >= BIG, `node B sent ${toA?.bytesOut} bytes to A`);

  const scExit = new Promise<number | null>((resolve) => sc.proc.once('exit', (code) => resolve(code)));
  sc.proc.kill('SIGTERM');
  assert.equal(await scExit, 0);
});
