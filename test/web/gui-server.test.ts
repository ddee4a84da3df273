// The token model every GUI relies on, over real sockets: the page and the websocket need the token
// (query or the cookie it is traded for), other origins are refused, bad messages break nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startGuiServer, type GuiClient } from '../../src/util/gui-server.js';

async function withServer(t: import('node:test').TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'gui-server-test-'));
  mkdirSync(join(root, 'page'));
  writeFileSync(join(root, 'page', 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(join(root, 'secret.txt'), 'outside');
  const clients: GuiClient[] = [];
  const gui = await startGuiServer({
    page: 'page/index.html',
    webRoot: join(root),
    maxMessageBytes: 1024,
    onClient: (c) => {
      clients.push(c);
      c.onMessage((m) => c.send({ type: 'echo', m }));
    },
  });
  t.after(async () => {
    await gui.close();
    rmSync(root, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${gui.port}`;
  return { gui, base, clients };
}

function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => undefined);
  });
}

test('without the token every request is 401; with it the page is served and the token becomes a cookie', async (t) => {
  const { gui, base } = await withServer(t);
  assert.match(gui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
  assert.equal((await fetch(`${base}/`)).status, 401);
  assert.equal((await fetch(`${base}/?token=wrong`)).status, 401);
  assert.equal((await fetch(`${base}/page/index.html`, { headers: { cookie: `skywire_gui_${gui.port}=wrong` } })).status, 401);

  const first = await fetch(gui.url, { redirect: 'manual' });
  assert.equal(first.status, 303);
  assert.equal(first.headers.get('location'), '/');
  const cookie = first.headers.get('set-cookie')!;
  assert.match(cookie, new RegExp(`^skywire_gui_${gui.port}=.*HttpOnly; SameSite=Strict`));
  const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0] } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.match(await page.text(), /<title>page<\/title>/);
  // No way out of the web root.
  const out = await fetch(`${base}/page/..%2f..%2fsecret.txt`, { headers: { cookie: cookie.split(';')[0] } });
  assert.ok(out.status === 403 || out.status === 404, `escape attempt got ${out.status}`);
});

test('the websocket needs the token and the page origin; bad messages are answered, oversized ones close only that socket', async (t) => {
  const { gui, base, clients } = await withServer(t);
  const ws = `ws://127.0.0.1:${gui.port}/ws`;
  assert.equal(await wsStatus(ws), 401);
  assert.equal(await wsStatus(`${ws}?token=nope`), 401);
  assert.equal(await wsStatus(`${ws}?token=${gui.token}`, { origin: 'http://127.0.0.1:1' }), 401, 'another origin');
  assert.equal(await wsStatus(ws, { cookie: `skywire_gui_${gui.port}=${gui.token}`, origin: base }), 101);

  const sock = new WebSocket(`${ws}?token=${gui.token}`);
  await new Promise((r) => sock.once('open', r));
  const next = () => new Promise<Record<string, unknown>>((r) => sock.once('message', (d) => r(JSON.parse(d.toString()))));
  let reply = next();
  sock.send('{not json');
  assert.deepEqual(await reply, { type: 'error', message: 'malformed message: not JSON' });
  reply = next();
  sock.send(JSON.stringify({ hello: 1 }));
  assert.deepEqual(await reply, { type: 'echo', m: { hello: 1 } });

  const other = new WebSocket(`${ws}?token=${gui.token}`);
  await new Promise((r) => other.once('open', r));
  const closed = new Promise<number>((r) => sock.once('close', (code) => r(code)));
  sock.send('x'.repeat(5000));
  assert.equal(await closed, 1009);
  // The server and the other browser are unaffected.
  const got = new Promise<string>((r) => other.once('message', (d) => r(d.toString())));
  gui.broadcast({ type: 'still', ok: true });
  assert.equal(await got, JSON.stringify({ type: 'still', ok: true }));
  assert.ok(clients.length >= 2);
  other.close();
});

test('a websocket message that is JSON but not an object is refused before any GUI handler sees it', async (t) => {
  const { gui } = await withServer(t);
  const sock = new WebSocket(`ws://127.0.0.1:${gui.port}/ws?token=${gui.token}`);
  t.after(() => sock.close());
  await new Promise((r) => sock.once('open', r));
  const next = () => new Promise<Record<string, unknown>>((r) => sock.once('message', (d) => r(JSON.parse(d.toString()) as Record<string, unknown>)));
  for (const bad of ['null', '[]', '[{"type":"x"}]', '1', '"x"', 'true']) {
    const reply = next();
    sock.send(bad);
    assert.deepEqual(await reply, { type: 'error', message: 'malformed message: not a JSON object' }, bad);
  }
  const reply = next();
  sock.send('{"type":"ok"}');
  assert.deepEqual(await reply, { type: 'echo', m: { type: 'ok' } }, 'objects still reach the GUI');
});

test('a browser that stops reading is not buffered for without bound: past 8 MiB queued, messages to it are dropped', async (t) => {
  const { gui, clients } = await withServer(t);
  const sock = new WebSocket(`ws://127.0.0.1:${gui.port}/ws?token=${gui.token}`);
  t.after(() => sock.terminate());
  await new Promise((r) => sock.once('open', r));
  const server = clients.at(-1)!;
  sock.pause(); // the browser stops reading: only the kernel's socket buffers take more

  const MiB = 1024 * 1024;
  const blob = 'x'.repeat(MiB);
  const sent = 128;
  let accepted = 0;
  for (let i = 0; i < sent; i++) if (server.send({ i, blob })) accepted++;
  // What the server accepted is its 8 MiB queue (plus the message that crossed it) plus what the kernel's
  // send and receive buffers of the loopback connection absorbed; everything beyond was dropped.
  const maxOf = (f: string) => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  const kernel = maxOf('/proc/sys/net/ipv4/tcp_wmem') + maxOf('/proc/sys/net/ipv4/tcp_rmem');
  assert.ok(accepted * MiB <= 8 * MiB + MiB + kernel, `${accepted} MiB accepted for a reader that does not read`);
  assert.ok(accepted < sent, 'messages were dropped');
  t.diagnostic(`${accepted} of ${sent} 1 MiB messages accepted for a reader that stopped (kernel buffers ${(kernel / MiB).toFixed(0)} MiB)`);

  // Once it reads again it gets exactly what was accepted, in order and whole, and later messages too.
  const got: number[] = [];
  const all = new Promise<void>((resolve) => {
    sock.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { i: number; blob?: string };
      got.push(m.i);
      if (m.blob !== undefined) assert.equal(m.blob.length, MiB);
      if (got.length === accepted + 1) resolve();
      else if (got.length === accepted) assert.equal(server.send({ i: -1 }), true, 'the drained socket takes messages again');
    });
  });
  sock.resume();
  await all;
  assert.deepEqual(got, [...Array.from({ length: accepted }, (_, i) => i), -1]);
});
