// The desktop's window layout in a real Chromium at 800x600 and at 1600x900: windows (terminals and the apps
// panel) tiled inside the desk without overlapping, each terminal at least 16x4 cells and the panel's buttons
// not covered; a window moved by hand floats (its title bar kept inside the desk) and Tile brings the layout
// back; closing and resizing re-tile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startProc } from './helpers.js';

const skip = browserSkipReason('desktop/index.html');

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The desk and every visible window (terminals by id, panels by name), in page pixels. */
async function boxes(page: Page): Promise<{ desk: Box; windows: Array<{ name: string; box: Box }> }> {
  const desk = (await page.locator('#desk').boundingBox())!;
  const windows = [];
  for (const w of await page.locator('.window:visible').all()) {
    const name = (await w.getAttribute('data-term')) ?? `panel ${await w.getAttribute('data-panel')}`;
    windows.push({ name, box: (await w.boundingBox())! });
  }
  return { desk, windows };
}

/** What is wrong with the layout: a window outside the desk, two windows overlapping. */
function problems(l: Awaited<ReturnType<typeof boxes>>): string[] {
  const out: string[] = [];
  const { desk } = l;
  for (const { name, box: b } of l.windows) {
    if (b.x < desk.x - 0.5 || b.y < desk.y - 0.5 || b.x + b.width > desk.x + desk.width + 0.5 || b.y + b.height > desk.y + desk.height + 0.5) {
      out.push(`${name} at ${JSON.stringify(b)} is not inside the desk ${JSON.stringify(desk)}`);
    }
  }
  for (let i = 0; i < l.windows.length; i++) {
    for (let j = i + 1; j < l.windows.length; j++) {
      const [a, b] = [l.windows[i].box, l.windows[j].box];
      const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
      const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
      if (w > 0.5 && h > 0.5) out.push(`${l.windows[i].name} and ${l.windows[j].name} overlap by ${Math.round(w)}x${Math.round(h)} px`);
    }
  }
  return out;
}

async function assertTiled(page: Page, terminals: number, what: string): Promise<void> {
  const l = await boxes(page);
  assert.deepEqual(problems(l), [], what);
  assert.equal(l.windows.filter((w) => !w.name.startsWith('panel')).length, terminals, `${what}: terminals`);
  assert.ok(l.windows.some((w) => w.name === 'panel apps'), `${what}: the apps panel is shown`);
  for (const t of await page.locator('.window[data-term]').all()) {
    const [cols, rows] = [Number(await t.getAttribute('data-cols')), Number(await t.getAttribute('data-rows'))];
    assert.ok(cols >= 16 && rows >= 4, `${what}: a terminal of ${cols}x${rows} cells`);
  }
  // Nothing covers the panel's buttons: the element under each button's centre is the button itself. One page
  // function, so the check sees one rendering of the list (it is redrawn every second).
  const covered = await page.evaluate(() => {
    interface E { getBoundingClientRect(): { x: number; y: number; width: number; height: number }; textContent: string | null; tagName: string }
    const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<E>; elementFromPoint(x: number, y: number): E | null } }).document;
    const buttons = Array.from(d.querySelectorAll('#apps button'));
    const out: string[] = [];
    for (const b of buttons) {
      const r = b.getBoundingClientRect();
      const hit = d.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      if (hit !== b) out.push(`${b.textContent} is under ${hit ? `${hit.tagName} ${hit.textContent?.slice(0, 40)}` : 'nothing'}`);
    }
    return { count: buttons.length, out };
  });
  assert.ok(covered.count >= 3, `${what}: the panel shows the app's buttons`);
  assert.deepEqual(covered.out, [], `${what}: panel buttons covered`);
}

async function newTerminal(page: Page): Promise<void> {
  const n = await page.locator('.window[data-term]').count();
  await page.click('[data-testid=start]');
  await page.click('#menu .item:text("New Terminal")');
  await page.waitForFunction((k) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('.window[data-term]').length === k, n + 1);
}

test('windows tile without overlap at 800x600 and 1600x900; a moved window floats, Tile restores', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'desktop-layout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `apps:\n  ticker:\n    path: ${JSON.stringify(compiled('test/web/fixtures/ticker.js'))}\n    default_args: ["300"]\n`);
  const proc = startProc(t, [compiled('test/web/fixtures/desktop.js'), config, join(dir, 'state')]);
  const [, url] = await proc.waitFor(/Viscript desktop: open (\S+)/);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const shot = (step: string) => page.screenshot({ path: join(artifacts, `desktop-layout-${step}.png`) });
  await page.goto(url);
  await page.locator('.window[data-term] .xterm-rows:has-text("viscript>")').waitFor();

  // 800x600: one terminal beside the apps panel, an app running in it.
  await page.click('[data-testid=start]');
  await page.click('#menu .item:text("Start ticker")');
  await page.locator('#apps li[data-app-id="2"] .state.registered').waitFor({ timeout: 15_000 });
  assert.equal(await page.getAttribute('[data-testid=tile]', 'aria-pressed'), 'true', 'tiled from the start');
  await assertTiled(page, 1, '800x600, one terminal');
  await shot('800-1');

  // Three terminals: still inside the desk, none over another or over the panel.
  await newTerminal(page);
  await newTerminal(page);
  await assertTiled(page, 3, '800x600, three terminals');
  await shot('800-3');

  // Moved by hand: the layout floats; dragged far past the corner, the title bar stays inside the desk.
  const win = page.locator('.window[data-term]').first();
  const b = (await win.boundingBox())!;
  await page.mouse.move(b.x + 40, b.y + 12);
  await page.mouse.down();
  await page.mouse.move(b.x + 1540, b.y + 1212, { steps: 4 });
  await page.mouse.up();
  assert.equal(await page.getAttribute('[data-testid=tile]', 'aria-pressed'), 'false');
  const desk = (await page.locator('#desk').boundingBox())!;
  const bar = (await win.locator('.titlebar').boundingBox())!;
  assert.ok(bar.y >= desk.y && bar.y + bar.height <= desk.y + desk.height + 0.5, `title bar at y ${bar.y} in desk ${JSON.stringify(desk)}`);
  assert.ok(bar.x + 60 <= desk.x + desk.width, `title bar at x ${bar.x} still reachable`);
  await shot('800-moved');
  await page.click('[data-testid=tile]');
  await assertTiled(page, 3, '800x600, after Tile');

  // Closing a terminal re-tiles the others; so does a wider browser.
  await page.locator('.window[data-term]').last().locator('.close').click();
  await assertTiled(page, 2, '800x600, after closing one');
  const narrow = (await page.locator('.window[data-term]').first().boundingBox())!;
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.waitForFunction((w) => {
    const el = (globalThis as unknown as { document: { querySelector(s: string): { offsetWidth: number } | null } }).document.querySelector('.window[data-term]');
    return (el?.offsetWidth ?? 0) > w;
  }, narrow.width);
  await assertTiled(page, 2, '1600x900, two terminals');
  const panel = (await page.locator('.window[data-panel=apps]').boundingBox())!;
  assert.ok(panel.width <= 340, `the apps panel stays a side column (${panel.width} px)`);
  await shot('1600-2');

  // The apps panel can be closed (the terminals take its room) and shown again from the taskbar.
  await page.locator('.window[data-panel=apps] .close').click();
  await page.locator('.window[data-panel=apps]').waitFor({ state: 'hidden' });
  const { windows } = await boxes(page);
  assert.deepEqual(problems(await boxes(page)), []);
  assert.ok(windows.some((w) => w.box.x + w.box.width > 1400), 'the terminals use the panel\'s room');
  await page.click('#tasks button[data-panel=apps]');
  await assertTiled(page, 2, '1600x900, panel shown again');
  await browser.close();
  await proc.kill();
});
