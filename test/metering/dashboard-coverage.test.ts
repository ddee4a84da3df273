// The manager's dashboard shows per-hop traffic with its receipt coverage: metering nodes report, per rule, what
// the next hop signed for; after 8 MiB A -> B -> C the middle node's rule shows 100% signed, in chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium } from 'playwright-core';
import { AppClient } from '../../src/node/sdk/index.js';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startMessenger, startProc } from '../web/helpers.js';
import type { Socket } from 'node:net';
import { dialRetry } from '../node/harness.js';

const skip = browserSkipReason('dashboard/index.html');

async function meteringNode(t: TestContext, dir: string, name: string, messenger: string, manager: string, connect: string[]) {
  const args = [compiled('src/cli/skywire.js'), 'node', '--metering', '--key', join(dir, `${name}.json`), '--messenger', messenger,
    '--manager', manager, '--json', ...connect.flatMap((pk) => ['--connect', pk])];
  const proc = startProc(t, args, { SIGNAL_CLIENT: 'false' });
  const [line] = await proc.waitFor(/^\{.*\}$/m);
  return { proc, ...(JSON.parse(line) as { pk: string; apiFile: string }) };
}

test("the dashboard shows each hop's forwarded bytes with the share its next hop signed for", { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-metering-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { address: messenger } = await startMessenger(t, dir);
  const mgrProc = startProc(t, [compiled('test/web/fixtures/node-manager.js'), messenger]);
  const [, url] = await mgrProc.waitFor(/dashboard: open (\S+)/);
  const [mgrLine] = await mgrProc.waitFor(/^\{.*\}$/m);
  const { pk: managerPk } = JSON.parse(mgrLine) as { pk: string };
  const c = await meteringNode(t, dir, 'c', messenger, managerPk, []);
  const b = await meteringNode(t, dir, 'b', messenger, managerPk, [c.pk]);
  const a = await meteringNode(t, dir, 'a', messenger, managerPk, [b.pk]);

  // A stream A -> C over B that stays open (a closed route's rules are gone, and with them its row).
  const sink = await AppClient.connect({ apiFile: c.apiFile, name: 'sink', port: 9 });
  const src = await AppClient.connect({ apiFile: a.apiFile, name: 'src' });
  t.after(() => Promise.all([sink.close(), src.close()]));
  const total = 8 << 20;
  const arrived = new Promise<void>((resolve) => {
    sink.listen((s: Socket) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length) >= total && resolve());
    });
  });
  const stream = await dialRetry(src, c.pk, 9, { minHops: 2 });
  t.after(() => stream.destroy());
  stream.write(Buffer.alloc(total, 1));
  await arrived;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url);
  // B's intermediary rule towards C: its coverage cell, once C's final receipt reached B and B reported it.
  const cell = page.locator(`#nodes .card[data-pk="${b.pk}"] td.coverage[data-coverage="1.0000"]`).first();
  await cell.waitFor({ timeout: 20_000 });
  assert.equal(await cell.textContent(), '100.0%');
  const row = cell.locator('xpath=..');
  assert.match((await row.textContent()) ?? '', /intermediary/);
  assert.match((await cell.getAttribute('title')) ?? '', /^8\.\d+ MiB of 8\.\d+ MiB signed by the next hop$/);
  await page.screenshot({ path: join(artifacts, 'dashboard-metering-coverage.png'), fullPage: true });
});
