// The Viscript desktop in a real browser over a real engine: terminals, start menu, apps panel, window moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startProc } from './helpers.js';

const skip = browserSkipReason('desktop/index.html');

// The DOM as seen from functions that run in the page (this file is compiled without the DOM lib).
interface Doc {
  querySelector(sel: string): { textContent: string | null; getAttribute(n: string): string | null } | null;
  querySelectorAll(sel: string): { length: number };
}

/** Waits until the visible text of terminal `term` matches `re`. */
async function waitScreen(page: Page, term: string, re: RegExp, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, src, flags]) => new RegExp(src, flags).test((globalThis as unknown as { document: Doc }).document.querySelector(sel)?.textContent ?? ''),
      [`.window[data-term="${term}"] .xterm-rows`, re.source, re.flags] as const,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const text = await page.locator(`.window[data-term="${term}"] .xterm-rows`).innerText().catch(() => '');
    throw new Error(`terminal ${term} never showed ${re}; screen:\n${text}`, { cause: err });
  }
}

async function typeLine(page: Page, term: string, line: string): Promise<void> {
  await page.click(`#tasks button[data-term="${term}"]`); // focus it through the taskbar: windows overlap
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

const focusedTerm = async (page: Page) => (await page.locator('.window.focused').getAttribute('data-term'))!;

test('the desktop runs Viscript shells in browser terminals, with a start menu and an apps panel', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'desktop-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, [
    'apps:',
    '  ticker:',
    '    desc: ticks and echoes <b>stdin</b>',
    `    path: ${JSON.stringify(compiled('test/web/fixtures/ticker.js'))}`,
    '    default_args: ["300"]',
    '',
  ].join('\n'));
  const proc = startProc(t, [compiled('test/web/fixtures/desktop.js'), config, join(dir, 'state')]);
  const [, url] = await proc.waitFor(/Viscript desktop: open (\S+)/);

  const bare = new URL(url);
  bare.search = '';
  assert.equal((await fetch(bare)).status, 401, 'no token, no page');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const shot = (step: string) => page.screenshot({ path: join(artifacts, `desktop-${step}.png`) });

  // Step 1: opened with the token, one terminal with a prompt.
  await page.goto(url);
  await page.locator('.window[data-term]').first().waitFor();
  const first = await focusedTerm(page);
  await waitScreen(page, first, /viscript> /);
  await shot('1-open');

  // Step 2: a second terminal from the start menu.
  await page.click('[data-testid=start]');
  await page.click('#menu .item:text("New Terminal")');
  assert.equal(await page.locator('.window[data-term]').count(), 2);
  const second = await focusedTerm(page);
  assert.notEqual(second, first);
  await waitScreen(page, second, /viscript> /);
  await shot('2-second-terminal');

  // Step 3: start an app from the menu; it shows in the panel with CPU and memory.
  await page.click('[data-testid=start]');
  await page.click('#menu .item:text("Start ticker")');
  await waitScreen(page, second, /started ticker with id 2/);
  const row = page.locator('#apps li[data-app-id="2"]');
  await row.locator('.state.registered').waitFor({ timeout: 15_000 });
  // Memory in binary units, as in the CLI (`la`, `ru`).
  await page.waitForFunction(() => /MiB/.test((globalThis as unknown as { document: Doc }).document.querySelector('#apps li[data-app-id="2"]')?.textContent ?? ''));
  await page.waitForFunction(() => ((globalThis as unknown as { document: Doc }).document.querySelector('#apps li[data-app-id="2"] polyline')?.getAttribute('points') ?? '').split(' ').length >= 2);
  await shot('3-app-in-panel');

  // Step 4: la, ping, ru in the first terminal.
  await typeLine(page, first, 'la');
  await waitScreen(page, first, /ticker/);
  await typeLine(page, first, 'ping 2');
  await waitScreen(page, first, /pong from .* in [\d.]+ ms/);
  await typeLine(page, first, 'ru 2');
  await waitScreen(page, first, /cpu [\d.]+%\s+rss/);
  await shot('4-la-ping-ru');

  // Step 5: attach (live output, typed lines to stdin), Ctrl+Z detaches.
  await typeLine(page, first, 'attach 2');
  await page.locator(`.window[data-term="${first}"] .title:has-text("attached to 2")`).waitFor();
  await waitScreen(page, first, /tick \d+/);
  await typeLine(page, first, 'hello from the browser');
  await waitScreen(page, first, /echo: hello from the browser/);
  await shot('5-attached');
  await page.keyboard.press('Control+z');
  await waitScreen(page, first, /detached from 2/);
  await page.locator(`.window[data-term="${first}"] .title:has-text("attached")`).waitFor({ state: 'detached' });
  await shot('5-detached');

  // Step 6: move by the title bar, resize from a corner, and never below 16x4 cells. The windows start tiled
  // (filling the desk), so this grows the window from its top-left corner, which the move left on screen.
  const win = page.locator(`.window[data-term="${first}"]`);
  const before = (await win.boundingBox())!;
  await page.mouse.move(before.x + 60, before.y + 12);
  await page.mouse.down();
  await page.mouse.move(before.x + 260, before.y + 112, { steps: 5 });
  await page.mouse.up();
  const moved = (await win.boundingBox())!;
  assert.ok(Math.abs(moved.x - before.x - 200) <= 2 && Math.abs(moved.y - before.y - 100) <= 2, `moved to ${JSON.stringify(moved)}`);
  assert.equal(await page.getAttribute('[data-testid=tile]', 'aria-pressed'), 'false', 'a window moved by hand ends the tiling');
  const size = async () => [Number(await win.getAttribute('data-cols')), Number(await win.getAttribute('data-rows'))];
  const [colsBefore, rowsBefore] = await size();
  await page.mouse.move(moved.x + 2, moved.y + 2);
  await page.mouse.down();
  await page.mouse.move(moved.x - 150, moved.y - 80, { steps: 5 });
  await page.mouse.up();
  const bigger = (await win.boundingBox())!;
  assert.ok(bigger.width > moved.width + 100 && bigger.height > moved.height + 50, `resized to ${JSON.stringify(bigger)}`);
  const [colsAfter, rowsAfter] = await size();
  assert.ok(colsAfter > colsBefore && rowsAfter > rowsBefore, `terminal went from ${colsBefore}x${rowsBefore} to ${colsAfter}x${rowsAfter}`);
  await shot('6-moved-resized');
  await page.mouse.move(bigger.x + 2, bigger.y + 2);
  await page.mouse.down();
  await page.mouse.move(bigger.x + bigger.width - 20, bigger.y + bigger.height - 20, { steps: 5 });
  await page.mouse.up();
  const [minCols, minRows] = await size();
  assert.ok(minCols >= 16 && minRows >= 4, `smallest terminal is ${minCols}x${minRows}`);
  assert.ok(minCols < colsBefore, `shrunk to ${minCols}x${minRows}`);
  await shot('6-smallest');
  const small = (await win.boundingBox())!;
  await page.mouse.move(small.x + 2, small.y + 2);
  await page.mouse.down();
  await page.mouse.move(small.x - 500, small.y - 400, { steps: 5 });
  await page.mouse.up();

  // Step 7: window commands: mt moves, ct closes another, never the last one; sd stops the app.
  await typeLine(page, first, 'mt 40 30');
  const placed = (await win.boundingBox())!;
  const desk = (await page.locator('#desk').boundingBox())!;
  assert.deepEqual([Math.round(placed.x - desk.x), Math.round(placed.y - desk.y)], [40, 30]);
  await typeLine(page, first, `ct ${second.slice(0, 4)}`);
  await page.locator(`.window[data-term="${second}"]`).waitFor({ state: 'detached' });
  await typeLine(page, first, `ct ${first.slice(0, 4)}`);
  await waitScreen(page, first, /cannot close the last terminal/);
  await typeLine(page, first, 'sd 2');
  await waitScreen(page, first, /stopped/);
  await row.locator('.state.exited').waitFor();
  await shot('7-window-commands-sd');

  // Step 8: clicking an app in the panel opens its logs.
  await row.click();
  await page.waitForFunction(() => (globalThis as unknown as { document: Doc }).document.querySelectorAll('.window[data-term]').length === 2);
  const logs = await focusedTerm(page);
  await waitScreen(page, logs, /tick \d+/);
  await shot('8-logs');

  // Step 9: the panel's own actions: restart brings the app back under its id, stop stops it.
  await row.locator('[data-testid=restart]').click();
  await row.locator('.state.registered').waitFor({ timeout: 15_000 });
  await row.locator('[data-testid=stop]').click();
  await row.locator('.state.exited').waitFor({ timeout: 15_000 });
  await shot('9-panel-actions');

  await browser.close();
  await proc.kill();
});

/** A port free right now (the desktop is then started on it, to come back on the same one). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function tickerConfig(dir: string): string {
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `apps:\n  ticker:\n    path: ${JSON.stringify(compiled('test/web/fixtures/ticker.js'))}\n    default_args: ["300"]\n`);
  return config;
}

test('desktop websocket: null, lists and wrong-typed requests are answered with an error and break nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'desktop-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const proc = startProc(t, [compiled('test/web/fixtures/desktop.js'), tickerConfig(dir), join(dir, 'state')]);
  t.after(() => proc.kill());
  const url = new URL((await proc.waitFor(/Viscript desktop: open (\S+)/))[1]);
  const ws = new WebSocket(`ws://${url.host}/ws${url.search}`, { headers: { origin: `http://${url.host}` } });
  t.after(() => ws.close());
  const inbox: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    inbox.push(JSON.parse(d.toString()) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  await new Promise((r) => ws.once('open', r));
  await next((m) => m.type === 'init');

  const term = 'abcdef12';
  const bad = [
    'null', '[]', '1', '"open"', '{}', '{"type":null}', '{"type":"open"}', '{"type":"open","term":5}',
    '{"type":"open","term":"../x"}', '{"type":"line","term":"abcdef12"}', '{"type":"line","term":"abcdef12","text":5}',
    `{"type":"line","term":"abcdef12","text":"${'a'.repeat(9000)}"}`, '{"type":"frob","term":"abcdef12"}', '{"type":["open"],"term":"abcdef12"}',
  ];
  for (const text of bad) {
    ws.send(text);
    const err = await next((m) => m.type === 'error');
    assert.match(String(err.message), /malformed (message|request)/, text.slice(0, 60));
  }
  ws.send(JSON.stringify({ type: 'line', term, text: 'apps' }));
  assert.equal((await next((m) => m.type === 'error')).message, `no terminal ${term}`);

  // The same connection still works: a terminal opens and runs a command.
  ws.send(JSON.stringify({ type: 'open', term }));
  ws.send(JSON.stringify({ type: 'line', term, text: 'apps' }));
  const result = await next((m) => m.type === 'result');
  assert.equal(result.ok, true);
  assert.match(String(result.text), /ticker/);
});

test('an open desktop page reconnects by itself when Viscript restarts on the same port', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'desktop-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = tickerConfig(dir);
  const state = join(dir, 'state');
  const address = `127.0.0.1:${await freePort()}`;
  const first = startProc(t, [compiled('test/web/fixtures/desktop.js'), config, state, address]);
  const [, url] = await first.waitFor(/Viscript desktop: open (\S+)/);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(url);
  const term = await focusedTerm(page);
  await waitScreen(page, term, /viscript> /);

  await first.kill('SIGTERM');
  await page.locator('#conn:text("reconnecting")').waitFor();
  await page.screenshot({ path: join(artifacts, 'desktop-reconnect-1-down.png') });

  const second = startProc(t, [compiled('test/web/fixtures/desktop.js'), config, state, address]);
  t.after(() => second.kill());
  const [, url2] = await second.waitFor(/Viscript desktop: open (\S+)/);
  assert.equal(url2, url, 'same address, same token: the cookie of the open page is still good');
  await page.waitForFunction(() => (globalThis as unknown as { document: Doc }).document.querySelector('#conn')?.textContent === '', undefined, { timeout: 20_000 });
  // The page reopened its terminal on the new server: a command typed there runs.
  await typeLine(page, term, 'apps');
  await waitScreen(page, term, /ticker/);
  await page.screenshot({ path: join(artifacts, 'desktop-reconnect-2-healed.png') });
});
