// `viscript --gui` as a user runs it: the real CLI serves the desktop, prints the URL to open (as text, or as
// guiUrl in the --json ready line), the URL's token opens it and nothing opens it without the token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { VISCRIPT_CLI, startViscript, tempDir, writeConfig } from './helpers.js';

/** Opens `url` as a browser would: the token is traded for a cookie, which then opens the page. */
async function open(url: string): Promise<{ redirect: number; cookie: string; page: number }> {
  const first = await fetch(url, { redirect: 'manual' });
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0];
  const page = await fetch(new URL('/', url), { headers: { cookie } });
  return { redirect: first.status, cookie, page: page.status };
}

test('viscript --gui prints the desktop URL, which opens it; without the token it answers 401', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, [VISCRIPT_CLI, '--config', writeConfig(dir, ''), '--headless', '--gui', '--signal-address', '127.0.0.1:0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^Viscript desktop: open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/.exec(line);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`viscript exited (${code}) without printing the URL`)));
  });
  const opened = await open(url);
  assert.equal(opened.redirect, 303);
  assert.match(opened.cookie, /^skywire_gui_\d+=/);
  // 200 with a web build, 503 naming "npm run build" without one: either way past the token check.
  assert.ok(opened.page === 200 || opened.page === 503, `page status ${opened.page}`);
  const bare = new URL(url);
  bare.search = '';
  assert.equal((await fetch(bare)).status, 401);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('viscript --gui HOST:PORT --json: guiUrl is in the ready line, and a restart on that port keeps the token', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, '');
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const run = async () => {
    const v = startViscript(['--config', config, '--gui', `127.0.0.1:${port}`]);
    t.after(() => v.kill());
    const ready = await v.waitFor((m) => m.type === 'ready');
    return { v, ready };
  };
  const { v, ready } = await run();
  assert.match(String(ready.guiUrl), new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[\\w-]{32}$`));
  assert.equal(v.messages.filter((m) => m.type === 'text').length, 0, 'in --json mode every line is JSON, the URL too');
  assert.equal((await open(String(ready.guiUrl))).redirect, 303);
  const tokenFile = join(dir, '.viscript', 'gui.json');
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  v.child.kill('SIGTERM');
  await v.exited;

  const again = await run();
  assert.equal(again.ready.guiUrl, ready.guiUrl, 'an open page reconnects with the cookie it has');
  again.v.child.kill('SIGTERM');
  await again.v.exited;

  // A damaged token file is replaced, not trusted.
  for (const damaged of ['null', '[]', '{"token":5}', '{"token":"short"}']) {
    writeFileSync(tokenFile, damaged);
    const third = await run();
    assert.match(String(third.ready.guiUrl), /token=[\w-]{32}$/, damaged);
    assert.notEqual(third.ready.guiUrl, ready.guiUrl);
    assert.match(readFileSync(tokenFile, 'utf8'), /^\{"token":"[\w-]{32}"\}\n$/);
    third.v.child.kill('SIGTERM');
    await third.v.exited;
  }
});
