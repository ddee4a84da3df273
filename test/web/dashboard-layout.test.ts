// What an operator sees on the network dashboard, in a real Chromium: node names (`skywire node --name`) next
// to the key prefix, tables that fit their cards from 800 px up (keys shortened, the full key in the tooltip),
// and "none" in every empty table. A name is a label anyone can announce for their own key: only names that
// pass the CLI's check are shown, always beside the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { MessengerClient } from '../../src/messenger/client.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { managerSnapshot, startDashboard } from '../../src/nodemanager/dashboard/index.js';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startMessenger, startProc } from './helpers.js';
import type { TestContext } from 'node:test';

const skip = browserSkipReason('dashboard/index.html');
const CLI = compiled('src/cli/skywire.js');
const LONG_NAME = 'a-very-long-node-name-of-32-char';

async function startNode(t: TestContext, dir: string, key: string, messenger: string, manager: string, extra: string[]) {
  const proc = startProc(t, [CLI, 'node', '--key', join(dir, `${key}.json`), '--messenger', messenger, '--manager', manager, '--json', ...extra], {
    SIGNAL_CLIENT: 'false',
  });
  const [line] = await proc.waitFor(/^\{.*\}$/m);
  return { proc, ...(JSON.parse(line) as { pk: string; apiFile: string }) };
}

interface El {
  scrollWidth: number;
  clientWidth: number;
  getBoundingClientRect(): { left: number; right: number };
  closest(s: string): El | null;
  getAttribute(n: string): string | null;
}
interface Doc {
  documentElement: El;
  querySelectorAll(s: string): ArrayLike<El>;
}

/** What spills over at the current width: the page itself, a table box that must scroll, a card past the window. */
async function overflows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const g = globalThis as unknown as { document: Doc; innerWidth: number };
    const out: string[] = [];
    const root = g.document.documentElement;
    if (root.scrollWidth > g.innerWidth) out.push(`page is ${root.scrollWidth} px wide in a ${g.innerWidth} px window`);
    for (const box of Array.from(g.document.querySelectorAll('.table-box'))) {
      const where = box.closest('.card')?.getAttribute('data-pk')?.slice(0, 8) ?? 'section';
      if (box.scrollWidth > box.clientWidth + 1) out.push(`a table in ${where} needs ${box.scrollWidth} px, has ${box.clientWidth}`);
    }
    for (const card of Array.from(g.document.querySelectorAll('.card'))) {
      if (card.getBoundingClientRect().right > g.innerWidth) out.push(`card ${card.getAttribute('data-pk')?.slice(0, 8)} ends past the window`);
    }
    return out;
  });
}

test('node names next to the key, tables that fit their cards from 800 px up', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-layout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { address: messenger } = await startMessenger(t, dir);
  const mgr = startProc(t, [compiled('test/web/fixtures/node-manager.js'), messenger]);
  const [, url] = await mgr.waitFor(/dashboard: open (\S+)/);
  const { pk: managerPk } = JSON.parse((await mgr.waitFor(/^\{.*\}$/m))[0]) as { pk: string };
  // A line: a (alpha) - b (a 32-character name) - c (no name).
  const c = await startNode(t, dir, 'c', messenger, managerPk, []);
  const b = await startNode(t, dir, 'b', messenger, managerPk, ['--name', LONG_NAME, '--connect', c.pk]);
  const a = await startNode(t, dir, 'a', messenger, managerPk, ['--name', 'alpha', '--connect', b.pk]);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  // A route a -> c (through b), so the routes table and the rules tables have rows.
  const ping = startProc(t, [CLI, 'ping', c.pk, '--api-file', a.apiFile, '-c', '1000', '-i', '100'], { SIGNAL_CLIENT: 'false' });
  await ping.waitFor(/route set up/);
  await page.locator('#routes tbody tr[data-route]').waitFor({ timeout: 15_000 });
  await page.locator(`#graph .node[data-pk="${a.pk}"] text.name`).waitFor({ timeout: 15_000 });

  // Names: on the graph, on the cards (with the key shortened, the full key in the tooltip), in the tables.
  assert.equal(await page.locator(`#graph .node[data-pk="${a.pk}"] text.name`).textContent(), 'alpha');
  const cardA = page.locator(`#nodes .card[data-pk="${a.pk}"]`);
  assert.equal(await cardA.locator('h3 .name').textContent(), 'alpha');
  assert.equal(await cardA.locator('h3 code.key').getAttribute('title'), a.pk);
  assert.doesNotMatch((await cardA.locator('h3').textContent()) ?? '', new RegExp(a.pk), 'the whole key is in the tooltip, not the title line');
  const peerB = cardA.locator(`tr[data-peer="${b.pk}"] .who`);
  assert.equal(await peerB.locator('.name').textContent(), LONG_NAME);
  assert.equal(await peerB.locator('code').textContent(), b.pk.slice(0, 8));
  assert.equal(await peerB.getAttribute('title'), `${LONG_NAME}\n${b.pk}`);
  assert.equal(await page.locator(`#nodes .card[data-pk="${c.pk}"] h3 .name`).count(), 0, 'no name, no name shown');
  assert.match((await page.locator('#routes tbody tr[data-route]').first().textContent()) ?? '', /alpha \([0-9a-f]{8}\) → a-very-long-node-name-of-32-char/);
  await page.locator('#history li.setup').waitFor();
  assert.match((await page.locator('#history li.setup').textContent()) ?? '', /route alpha \([0-9a-f]{8}\) → [0-9a-f]{8}:1 set up via alpha \([0-9a-f]{8}\) → a-very-long/);

  // Every table fits its card at common widths.
  for (const width of [1920, 1280, 1024, 800]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(artifacts, `dashboard-layout-${width}.png`), fullPage: true });
    assert.deepEqual(await overflows(page), [], `at ${width} px`);
  }
  await ping.kill();
});

test('every empty table of the dashboard says "none"', { skip, timeout: 60_000 }, async (t) => {
  const pk = pkToHex(generateKeyPair().publicKey);
  const dash = await startDashboard({ snapshot: () => ({ nodes: [{ pk, online: true, transports: [], rules: [] }], routes: [], services: [] }) });
  t.after(() => dash.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  await page.goto(dash.url);
  await page.locator(`#nodes .card[data-pk="${pk}"]`).waitFor();
  await page.screenshot({ path: join(artifacts, 'dashboard-empty.png'), fullPage: true });
  for (const sel of ['#services tbody', '#routes tbody', `.card[data-pk="${pk}"] [data-testid=transports] tbody`, `.card[data-pk="${pk}"] [data-testid=rules] tbody`, '#history']) {
    assert.deepEqual(await page.locator(`${sel} > *`).allTextContents(), ['none'], sel);
  }
});

test('the widest values still fit their cards at 800, 1024, 1280 and 1920 px', { skip, timeout: 60_000 }, async (t) => {
  const pks = Array.from({ length: 4 }, () => pkToHex(generateKeyPair().publicKey));
  let calls = 0;
  // Counters that grow by 10^9 bytes a look: byte and rate columns at their widest ("931.3 GiB", "4.66 GiB/s").
  const snapshot = () => {
    const n = ++calls * 1e9;
    const far = 999e9 + n;
    return {
      nodes: pks.map((pk, i) => ({
        pk, name: `${'wide-node-name-'.padEnd(31, 'x')}${i}`, online: true,
        transports: pks.filter((p) => p !== pk).map((peer) => ({ peer, latencyMs: 1234.5, kind: 'relayed', bytesIn: far, bytesOut: far })),
        rules: [1, 2, 3].map((k) => ({ id: 4294967290 + k, kind: 'intermediary', route: 'f'.repeat(16) + '~12', nextPk: pks[(i + k) % 4], bytesIn: far, bytesOut: far, signedBytes: far })),
      })),
      routes: [{ key: 'a'.repeat(16) + '~3', from: pks[0], to: pks[3], port: 65535, fwd: pks, rev: [...pks].reverse(), createdAt: Date.now() }],
      services: pks.map((pk) => ({ pk, name: 's'.repeat(64), port: 65535, attrs: { ['k'.repeat(64)]: 'v'.repeat(256) } })),
    };
  };
  const dash = await startDashboard({ snapshot, intervalMs: 200 });
  t.after(() => dash.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1920, height: 900 } });
  await page.goto(dash.url);
  await page.locator('#nodes .card td.num:text-matches("[0-9] [KMG]iB/s")').first().waitFor({ timeout: 15_000 });
  for (const width of [1920, 1280, 1024, 800]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(artifacts, `dashboard-wide-${width}.png`), fullPage: true });
    assert.deepEqual(await overflows(page), [], `at ${width} px`);
  }
});

test('only well-formed names reach the dashboard: a stranger\'s markup, control characters or long text are not shown', { timeout: 30_000 }, async (t) => {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0 });
  const { host, port } = await server.listen();
  t.after(() => server.close());
  const messengers = [{ pk: server.publicKey, host, port }];
  const names = ['kitchen pi', '<img src=x onerror=alert(1)>', 'evil\u202Egnp.exe', 'x'.repeat(33), 'tab\there', ''];
  const keys = names.map(() => generateKeyPair());
  const clients = await Promise.all(
    names.map(async (name, i) => {
      const c = new MessengerClient({ localKey: keys[i], messengers });
      await c.start();
      await c.announce({ services: [{ name: 'skywire-node', port: 0, attrs: { name } }] });
      return c;
    }),
  );
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const reader = new MessengerClient({ localKey: generateKeyPair(), messengers });
  await reader.start();
  t.after(() => reader.close());
  const pks = keys.map((k) => pkToHex(k.publicKey));
  const status = () => ({ pk: pks[0], listen: null, nodes: pks, transports: [], routes: [], routesSetUp: 0, routesFailed: 0, routesBroken: 0 });
  const manager = { status, messenger: reader, on: () => undefined, off: () => undefined } as unknown as Parameters<typeof managerSnapshot>[0];
  const snap = await managerSnapshot(manager)();
  assert.deepEqual(snap.nodes.map((n) => n.name), ['kitchen pi', undefined, undefined, undefined, undefined, undefined]);
});

test('skywire node --name refuses what the dashboard would not show: one line naming the flag and the value, exit 2', async () => {
  const messenger = `${pkToHex(generateKeyPair().publicKey)}@127.0.0.1:1`;
  for (const bad of ['<b>x</b>', 'x'.repeat(33), ' lead', 'new\nline']) {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'node', '--key', '/nonexistent/k.json', '--messenger', messenger, '--name', bad], (err, _o, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr }),
      ),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`--name "${bad}" must be 1-32 letters or digits`), r.stderr);
  }
});
