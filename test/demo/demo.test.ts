// The two-command demo: started as the README says (`npm start` builds, then runs `skywire demo`), it answers
// the curl line it prints, every component answers Viscript's ping / ru / sd, and stopping it leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { goneWithin } from '../viscript/helpers.js';
import { socksConnectReply } from './socks-reply.js';

const run = promisify(execFile);
const SKYWIRE = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const VISCRIPT = fileURLToPath(new URL('../../src/cli/viscript.js', import.meta.url));
const hasCurl = await run('curl', ['--version']).then(() => true, () => false);

/** The SOCKS5 reply code the demo proxy gives for CONNECT host:port (0 = connected, 2 = not allowed by ruleset). */
function socksReply(socksPort: number, host: string, port: number): Promise<number> {
  const name = Buffer.from(host);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return socksConnectReply(socksPort, Buffer.concat([Buffer.from([3, name.length]), name, p]));
}

test('the demo mesh answers its printed curl line and stops without leaving a process', { skip: hasCurl ? false : 'curl is not installed', timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skywire-demo-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const demo = spawn(process.execPath, [SKYWIRE, 'demo', '--headless', '--json', '--dir', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  demo.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => demo.on('exit', (code) => res(code)));
  // A failed step must not leave the mesh running: SIGTERM makes the demo stop Viscript and every app.
  t.after(async () => {
    if (demo.exitCode !== null) return;
    demo.kill('SIGTERM');
    const timer = setTimeout(() => demo.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });

  const ready = await new Promise<{ curl: string }>((resolve, reject) => {
    createInterface({ input: demo.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line) as { type?: string; curl?: string };
      if (msg.type === 'demo-ready') resolve(msg as { curl: string });
    });
    void exited.then((code) => reject(new Error(`demo exited (${code}) before it was ready:\n${stderr}`)));
  });

  // The exact printed line, as a user would paste it.
  const [cmd, ...args] = ready.curl.split(' ');
  assert.equal(cmd, 'curl');
  const page = await run('curl', ['-sS', '--max-time', '20', ...args]);
  assert.match(page.stdout, /Hello from the Skywire demo web server/);
  // The page says only what it knows: where the request came from, not a path it cannot see.
  assert.match(page.stdout, /This request came from 127\.0\.0\.1 port \d+\./);
  assert.doesNotMatch(page.stdout, /node C|node B/);

  // The exit opens the demo web server to the mesh, not the rest of its machine's loopback: Viscript's
  // control socket, its signal server and the dashboard are refused by the exit (0x02), the web server is not.
  const control = JSON.parse(readFileSync(join(dir, 'viscript', 'control.json'), 'utf8')) as { port: number };
  assert.equal(await socksReply(1080, '127.0.0.1', 7180), 0, 'the demo web server');
  assert.equal(await socksReply(1080, '127.0.0.1', control.port), 2, "Viscript's control port");
  assert.equal(await socksReply(1080, '127.0.0.1', 7999), 2, "Viscript's signal port");
  assert.equal(await socksReply(1080, 'localhost', 7190), 2, 'the dashboard');

  const vs = async (line: string) =>
    JSON.parse((await run(process.execPath, [VISCRIPT, '--state-dir', join(dir, 'viscript'), '--json', '-c', line])).stdout.trim().split('\n').pop()!) as {
      ok: boolean;
      text: string;
      data: Array<{ id: number; name: string; pid?: number; state: string }>;
    };
  const la = await vs('la');
  const names = la.data.map((a) => a.name).sort();
  assert.deepEqual(names, ['messenger', 'node-a', 'node-b', 'node-c', 'node-manager', 'socks-client', 'socks-server', 'web']);
  const pids = la.data.map((a) => a.pid!).filter(Boolean);
  assert.equal(pids.length, 8);
  for (const app of la.data) {
    const ping = await vs(`ping ${app.id}`);
    assert.ok(ping.ok, `ping ${app.name}: ${ping.text}`);
    const ru = await vs(`ru ${app.id}`);
    assert.match(ru.text, /rss/, `ru ${app.name}`);
  }
  // A healthy start-up warns about nothing (a peer still starting is normal), and every line is a human one.
  for (const app of la.data) {
    const logs = await vs(`logs ${app.id} -n 500`);
    assert.doesNotMatch(logs.text, / (WARN|ERROR) /, `${app.name} warned during a healthy start:\n${logs.text}`);
    assert.doesNotMatch(logs.text, /\{"t":/, `${app.name} logged JSON:\n${logs.text}`);
  }
  const web = la.data.find((a) => a.name === 'web')!;
  const sd = await vs(`sd ${web.id}`);
  assert.ok(sd.ok, sd.text);
  assert.match(sd.text, /after the signal SHUTDOWN/);

  demo.kill('SIGINT');
  assert.equal(await exited, 0);
  for (const pid of pids) assert.ok(await goneWithin(pid, 10_000), `process ${pid} is still running after the demo stopped`);
});

test('the demo wants an IP address for --web, since its exit opens exactly that address and port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skywire-demo-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run(process.execPath, [SKYWIRE, 'demo', '--headless', '--dir', dir, '--web', 'localhost:7180']).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--web needs an IP address \(e\.g\. 127\.0\.0\.1:7180\), not "localhost"/);
});

test('interrupted before the mesh is ready, the demo stops everything and exits at once, non-zero', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skywire-demo-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ports = ['--socks', '127.0.0.1:1181', '--web', '127.0.0.1:7281', '--messenger', '127.0.0.1:7211', '--dashboard', '127.0.0.1:7291', '--signal', '127.0.0.1:7998'];
  const demo = spawn(process.execPath, [SKYWIRE, 'demo', '--headless', '--json', '--dir', dir, '--ready-timeout', '120000', ...ports], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((res) => demo.on('exit', (code) => res(code)));
  t.after(() => demo.kill('SIGKILL'));
  let stderr = '';
  demo.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) => {
    createInterface({ input: demo.stdout }).on('line', (line) => {
      if (line.startsWith('{"type":"ready"')) resolve();
    });
  });
  demo.kill('SIGINT');
  const code = await exited;
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /stopped before the mesh was ready \(interrupted\)/);
});
