// The network dashboard over a real 4-node mesh: messenger, node manager (with the dashboard) and nodes,
// each its own process; a route is broken by killing its middle node and set up again around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startMessenger, startProc } from './helpers.js';
import type { TestContext } from 'node:test';

const skip = browserSkipReason('dashboard/index.html');

async function startNode(t: TestContext, dir: string, name: string, messenger: string, manager: string, connect: string[]) {
  const args = [compiled('src/cli/skywire.js'), 'node', '--key', join(dir, `${name}.json`), '--messenger', messenger,
    '--manager', manager, '--json', ...connect.flatMap((pk) => ['--connect', pk])];
  const proc = startProc(t, args, { SIGNAL_CLIENT: 'false' });
  const [line] = await proc.waitFor(/^\{.*\}$/m);
  const info = JSON.parse(line) as { pk: string; apiFile: string };
  return { proc, ...info };
}

/** Waits until the page shows `online` online nodes (and `edges` edges, if given). A function, not a string:
 * a string predicate is evaluated with eval inside the page, which the dashboard's CSP (rightly) refuses. */
async function waitForGraph(page: Page, online: number, edges: number | null, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    ([n, e]) => {
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document;
      return d.querySelectorAll('#graph .node.online').length === n && (e === null || d.querySelectorAll('#graph line.edge').length === e);
    },
    [online, edges] as const,
    { timeout, polling: 100 },
  );
}

test('the dashboard shows a 4-node mesh live, a killed node within 5 s, and the route set up around it', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { proc: messengerProc, address: messenger } = await startMessenger(t, dir);
  const mgrProc = startProc(t, [compiled('test/web/fixtures/node-manager.js'), messenger]);
  const [, url] = await mgrProc.waitFor(/dashboard: open (\S+)/);
  const [mgrLine] = await mgrProc.waitFor(/^\{.*\}$/m);
  const { pk: managerPk } = JSON.parse(mgrLine) as { pk: string };

  // A diamond: a - b - d and a - c - d.
  const d = await startNode(t, dir, 'd', messenger, managerPk, []);
  const b = await startNode(t, dir, 'b', messenger, managerPk, [d.pk]);
  const c = await startNode(t, dir, 'c', messenger, managerPk, [d.pk]);
  const a = await startNode(t, dir, 'a', messenger, managerPk, [b.pk, c.pk]);

  const bare = new URL(url);
  bare.search = '';
  assert.equal((await fetch(bare)).status, 401);
  assert.equal((await fetch(new URL('/api/snapshot', bare))).status, 401);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const shot = (step: string) => page.screenshot({ path: join(artifacts, `dashboard-${step}.png`), fullPage: true });
  await page.goto(url);

  // Step 1: four nodes online and the four transports of the diamond, as graph and as tables.
  await waitForGraph(page, 4, 4);
  for (const [x, y] of [[a, b], [a, c], [b, d], [c, d]]) {
    const [p, q] = [x.pk, y.pk].sort();
    assert.equal(await page.locator(`#graph line.edge[data-a="${p}"][data-b="${q}"]`).count(), 1, `edge ${p.slice(0, 8)}-${q.slice(0, 8)}`);
  }
  assert.equal(await page.locator(`#nodes .card[data-pk="${a.pk}"] tr[data-peer]`).count(), 2);
  await shot('1-mesh');

  // Step 2: a route from a to d (a long ping), drawn and listed.
  const ping = startProc(t, [compiled('src/cli/skywire.js'), 'ping', d.pk, '--api-file', a.apiFile, '-c', '1000', '-i', '100'], { SIGNAL_CLIENT: 'false' });
  await ping.waitFor(/route set up/);
  await page.locator('#routes tbody tr[data-route]').waitFor();
  const routeKey = (await page.locator('#routes tbody tr[data-route]').getAttribute('data-route'))!;
  await page.locator(`#graph polyline[data-route="${routeKey}"]`).waitFor();
  const snap = (await (await fetch(new URL(`/api/snapshot?token=${new URL(url).searchParams.get('token')}`, bare))).json()) as {
    snapshot: { routes: Array<{ key: string; fwd: string[] }> };
  };
  const middle = snap.snapshot.routes.find((r) => r.key === routeKey)!.fwd[1];
  const victim = middle === b.pk ? b : c;
  await page.locator('#history li.setup').waitFor();
  await shot('2-route');

  // Step 3: kill the middle node: the page shows it offline within 5 s and the route broken.
  await victim.proc.kill('SIGKILL');
  await page.locator(`#graph .node.offline[data-pk="${victim.pk}"]`).waitFor({ timeout: 5000 });
  await waitForGraph(page, 3, null, 5000);
  await page.locator('#history li.broken').waitFor({ timeout: 5000 });
  await shot('3-node-killed');

  // Step 4: a new route between the same ends goes around the dead node: a repair in the history.
  const again = startProc(t, [compiled('src/cli/skywire.js'), 'ping', d.pk, '--api-file', a.apiFile, '-c', '1000', '-i', '100'], { SIGNAL_CLIENT: 'false' });
  await again.waitFor(/route set up/);
  await page.locator('#history li.repaired').waitFor({ timeout: 5000 });
  const repaired = await page.locator('#history li.repaired').textContent();
  const other = victim === b ? c : b;
  assert.match(repaired ?? '', new RegExp(other.pk.slice(0, 8)));
  await shot('4-repaired');

  await again.kill();
  await ping.kill();
  for (const n of [a, b, c, d]) await n.proc.kill();
  await mgrProc.kill();
  await messengerProc.kill();
});
