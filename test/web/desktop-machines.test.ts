// The Machines panel of a cluster hub's desktop in a real browser: a real hub Viscript (the CLI with --gui),
// a real agent Viscript and a real messenger. The panel shows the machine online with its apps, then offline
// when its Viscript is killed; a terminal of the desktop runs `la @all`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS } from './helpers.js';
import { dir, key, startMessenger, startNode, writeClusterConfig } from '../viscript/cluster/helpers.js';

const skip = browserSkipReason('desktop/index.html');

interface Doc {
  querySelector(sel: string): { textContent: string | null } | null;
}

async function waitText(page: Page, sel: string, re: RegExp, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([s, src]) => new RegExp(src).test((globalThis as unknown as { document: Doc }).document.querySelector(s)?.textContent ?? ''),
      [sel, re.source] as const,
      { timeout, polling: 100 },
    );
  } catch (err) {
    const text = await page.locator(sel).first().innerText().catch(() => '(missing)');
    throw new Error(`${sel} never showed ${re}; it shows:\n${text}`, { cause: err });
  }
}

test('a hub desktop shows its machines live, and its terminals run cluster commands', { skip, timeout: 90_000 }, async (t) => {
  const d = dir(t, 'desktop-machines');
  let stop: (() => void) | undefined;
  t.after(() => stop?.());
  const messenger = await startMessenger(d, { onProcess: (s) => (stop = s) });
  const hubKey = key(d, 'hub');
  const a1 = key(d, 'a1');
  for (const n of ['hub', 'a1']) mkdirSync(join(d, n));
  const agent = startNode(t, writeClusterConfig(join(d, 'a1'), { keyFile: a1.file, messenger, hubs: [hubKey.pk] }));
  const hubConf = writeClusterConfig(join(d, 'hub'), { keyFile: hubKey.file, messenger, machines: { m1: a1.pk, m2: key(d, 'a2').pk } });
  const { spawn } = await import('node:child_process');
  const { VISCRIPT_CLI, ViscriptProcess } = await import('../viscript/helpers.js');
  const hub = new ViscriptProcess(
    spawn(process.execPath, [VISCRIPT_CLI, '--headless', '--json', '--signal-address', '127.0.0.1:0', '--gui', '127.0.0.1:0', '--config', hubConf], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  t.after(async () => {
    hub.kill();
    await hub.exited;
  });
  const ready = await hub.waitFor((m) => m.type === 'ready');
  await agent.waitFor((m) => m.type === 'ready');
  await agent.run('s ticker');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  await page.goto(String(ready.guiUrl));
  await page.locator('.window').first().waitFor();

  // m1 online with its one app running; m2 (no agent) offline with the reason.
  await waitText(page, '[data-machine=m1] [data-testid=machine-state]', /^online$/);
  await waitText(page, '[data-machine=m1] [data-testid=machine-apps]', /^apps 1\/1$/);
  await waitText(page, '[data-machine=m2]', /offline.*not connected to the messenger/);
  await page.screenshot({ path: join(artifacts, 'desktop-machines-1-online.png') });

  // Clicking a machine lists its apps in the focused terminal; `la @all` typed there works too.
  await page.click('[data-machine=m1]');
  await waitText(page, '.window.focused .xterm-rows', /MACHINE\s+ID\s+NAME.*m1\s+2\s+ticker/);
  await page.click('#tasks button.task.active'); // the keyboard goes to the terminal focused from the taskbar
  await page.keyboard.type('ping m1:2');
  await page.keyboard.press('Enter');
  await waitText(page, '.window.focused .xterm-rows', /pong from 2 \(ticker\) in [\d.]+ ms/);

  // attach m1:2 in a browser terminal: typed lines reach the app on m1, its echo comes back; Ctrl+Z detaches.
  await page.keyboard.type('attach m1:2');
  await page.keyboard.press('Enter');
  await waitText(page, '.window.focused .titlebar', /attached to 2/);
  await page.keyboard.type('hello from the browser');
  await page.keyboard.press('Enter');
  await waitText(page, '.window.focused .xterm-rows', /echo: hello from the browser/);
  await page.keyboard.press('Control+z');
  await waitText(page, '.window.focused .xterm-rows', /detached from m1:2/);

  // The agent's Viscript killed: the panel says offline (within the 5 s the hub takes at most).
  process.kill(agent.child.pid!, 'SIGKILL');
  await agent.exited;
  await waitText(page, '[data-machine=m1] [data-testid=machine-state]', /^offline since /, 8000);
  await page.screenshot({ path: join(artifacts, 'desktop-machines-2-offline.png') });
  assert.ok(true);
});
