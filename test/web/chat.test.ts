// Sky-Messenger end to end: a real messenger process, two chat processes on two keys, two browser pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { artifacts, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, compiled, startMessenger, startProc } from './helpers.js';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerClient, parseMessengerAddress } from '../../src/messenger/index.js';
import { Peer } from '../apps/chat/helpers.js';
import type { TestContext } from 'node:test';

const skip = browserSkipReason('chat/index.html');

async function startChat(t: TestContext, dir: string, name: string, messenger: string) {
  const proc = startProc(t, [compiled('src/cli/skywire.js'), 'chat', '--key', join(dir, `${name}.key`),
    '--messenger', messenger, '--data', join(dir, `${name}-history`)]);
  const [, pk] = await proc.waitFor(/you are ([0-9a-f]{66})/);
  const [, url] = await proc.waitFor(/open (http:\S+)/);
  await proc.waitFor(/connected to the messenger/);
  return { proc, pk, url };
}

async function openContact(page: Page, nick: string) {
  await page.locator('#contacts li', { hasText: nick }).click();
}

async function sendText(page: Page, text: string) {
  await page.fill('[data-testid=text]', text);
  await page.press('[data-testid=text]', 'Enter');
}

/** Resolves once the messenger refuses datagrams to `pk` as offline, as it will the chat's (each try is a round trip). */
async function waitUntilOffline(t: TestContext, messenger: string, pk: string): Promise<void> {
  const asker = new MessengerClient({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(messenger)] });
  t.after(() => asker.close());
  await asker.start();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const err = await asker.send(pk, Buffer.from('are you there?')).then(() => undefined, (e: Error & { code?: string }) => e);
    if (err?.code === 'offline') break;
    if (Date.now() > deadline) throw new Error(`the messenger still takes datagrams for ${pk}: ${err?.message ?? 'delivered'}`);
  }
  await asker.close();
}

const message = (page: Page, text: string) => page.locator('#messages .msg .text', { hasText: text });

test('two chat apps talk through a real messenger, survive a kill -9, and show markup as text', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { proc: messengerProc, address: messenger } = await startMessenger(t, dir);

  const a = await startChat(t, dir, 'alice', messenger);
  let b = await startChat(t, dir, 'bob', messenger);

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const pageA = await browser.newPage();
  let pageB = await browser.newPage();
  const shot = (page: Page, step: string) => page.screenshot({ path: join(artifacts, `chat-${step}.png`) });

  // Step 1: each side adds the other by public key; a bad key gets a clear message.
  await pageA.goto(a.url);
  await pageA.waitForSelector(`[data-testid=my-pk]:text("${a.pk}")`);
  await pageA.fill('[data-testid=new-pk]', 'zz' + b.pk.slice(2));
  await pageA.click('[data-testid=add]');
  await pageA.waitForSelector('[data-testid=toast]:has-text("66 hex")');
  await pageA.fill('[data-testid=new-pk]', b.pk);
  await pageA.fill('[data-testid=new-nick]', 'bob');
  await pageA.click('[data-testid=add]');
  await pageB.goto(b.url);
  await pageB.fill('[data-testid=new-pk]', a.pk);
  await pageB.fill('[data-testid=new-nick]', 'alice');
  await pageB.click('[data-testid=add]');
  await openContact(pageA, 'bob');
  await openContact(pageB, 'alice');
  await shot(pageA, '1-contacts');

  // Step 2: messages both ways, with delivery and read marks.
  await sendText(pageA, 'hello bob');
  await message(pageB, 'hello bob').waitFor();
  await pageA.waitForSelector('#messages .msg.out[data-status=read]');
  await sendText(pageB, 'hi alice');
  await message(pageA, 'hi alice').waitFor();
  await shot(pageA, '2-exchange-a');
  await shot(pageB, '2-exchange-b');

  // Step 3: bob is killed outright; alice writes while he is down.
  // Once the messenger knows he is gone it refuses datagrams to him, so the message cannot be handed over.
  await b.proc.kill('SIGKILL');
  await waitUntilOffline(t, messenger, b.pk);
  await sendText(pageA, 'sent while you were away');
  await pageA.locator('#messages .msg.out', { hasText: 'sent while you were away' }).waitFor();
  const pending = await pageA.locator('#messages .msg.out', { hasText: 'sent while you were away' }).getAttribute('data-status');
  assert.equal(pending, 'queued', 'stored, not handed to the messenger');
  await shot(pageA, '3-queued');

  // Step 4: bob comes back with the same key and data: history intact, the queued message arrives.
  b = await startChat(t, dir, 'bob', messenger);
  await pageB.close();
  pageB = await browser.newPage();
  await pageB.goto(b.url);
  await openContact(pageB, 'alice');
  await message(pageB, 'hello bob').waitFor();
  await message(pageB, 'hi alice').waitFor();
  await message(pageB, 'sent while you were away').waitFor({ timeout: 20_000 });
  await pageA.waitForSelector('#messages .msg.out[data-status=read] >> text=sent while you were away');
  await shot(pageB, '4-after-restart');

  // Step 5: markup in a message is shown as text and never runs.
  const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1">';
  await sendText(pageA, evil);
  await message(pageB, 'window.__pwned').waitFor();
  assert.equal(await message(pageB, 'window.__pwned').textContent(), evil);
  assert.equal(await pageB.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
  assert.equal(await pageB.locator('#messages img, #messages script').count(), 0);
  await shot(pageB, '5-markup-as-text');

  // Step 6: without the token: 401 for HTTP and websocket; garbage over the websocket breaks nothing.
  const bare = new URL(a.url);
  bare.search = '';
  assert.equal((await fetch(bare)).status, 401);
  assert.equal((await fetch(new URL('/assets/', bare))).status, 401);
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://${bare.host}/ws`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
  assert.equal(status, 401);
  const token = new URL(a.url).searchParams.get('token')!;
  const ws = new WebSocket(`ws://${bare.host}/ws?token=${token}`);
  await new Promise((r) => ws.once('open', r));
  const errors: string[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { type: string; message?: string };
    if (m.type === 'error') errors.push(m.message ?? '');
  });
  ws.send('not json');
  ws.send(JSON.stringify({ type: 'send', peer: b.pk, text: 42 }));
  ws.send(JSON.stringify({ type: 'addContact', pk: 'nothex', nickname: '' }));
  await new Promise<void>((resolve) => {
    const check = () => (errors.length >= 3 ? resolve() : ws.once('message', check));
    check();
  });
  assert.ok(errors.some((e) => /not a public key/.test(e)), errors.join('; '));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send('x'.repeat(200 * 1024)); // over the limit: this socket is closed, the app goes on
  assert.equal(await closed, 1009);
  await sendText(pageA, 'still working');
  await message(pageB, 'still working').waitFor();
  await shot(pageA, '6-after-bad-input');

  // Step 7: a stranger writes to bob: a request with Accept/Ignore, not a contact, until bob accepts it.
  const stranger = new Peer(messenger, b.pk);
  t.after(() => stranger.close());
  await stranger.start();
  await stranger.sendMessage('ab'.repeat(12), 'hi bob, we met at the conference');
  const request = pageB.locator(`#request-list li[data-pk="${stranger.pk}"]`);
  await request.locator('.preview', { hasText: 'we met at the conference' }).waitFor();
  assert.equal(await pageB.locator(`#contacts li[data-pk="${stranger.pk}"]`).count(), 0, 'not a contact yet');
  await shot(pageB, '7-request');
  await request.locator('[data-testid=accept]').click();
  await pageB.locator(`#contacts li[data-pk="${stranger.pk}"]`).click();
  await message(pageB, 'we met at the conference').waitFor();
  await pageB.waitForSelector('#requests', { state: 'hidden' });
  await stranger.waitFor((p) => p.t === 'ack' && p.s === 'read', 'the read mark');
  await shot(pageB, '7-accepted');

  await a.proc.kill();
  await b.proc.kill();
  await messengerProc.kill();
});
