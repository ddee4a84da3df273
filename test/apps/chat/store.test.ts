// The chat's history on disk, through a real `skywire chat` process: private to its user (0700 directory,
// 0600 files, an open directory refused with the fix), one process per directory, and the 8 KiB text limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProc } from '../../web/helpers.js';
import { ChatSocket, chatArgs, deadMessenger, startChat } from './helpers.js';
import { generateKeyPair } from '../../../src/net/keys.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');
const filesIn = (dir: string) => readdirSync(dir).map((n) => join(dir, n)).filter((p) => statSync(p).isFile());

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the history directory is 0700 and every file in it 0600, also after messages were stored', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  // A permissive umask, as on many desktops: the store must not depend on the user's.
  const old = process.umask(0o022);
  t.after(() => process.umask(old));
  const chat = await startChat(t, dir, 'alice', deadMessenger());
  const ws = await ChatSocket.open(t, chat.url);
  const bob = generateKeyPair().publicKey.toString('hex');
  ws.send({ type: 'send', peer: bob, text: 'a secret written while offline' });
  await ws.waitFor((m) => m.type === 'message', 'the stored message');
  await chat.proc.kill(); // clean stop: LevelDB writes its final files too
  const data = join(dir, 'alice-history');
  assert.equal(mode(data), '0700', 'history directory');
  const files = filesIn(data);
  assert.ok(files.length >= 3, `LevelDB files: ${files.join(' ')}`);
  for (const f of files) assert.equal(mode(f), '0600', f);
});

test('a history directory open to group or others is refused with the path and the fix', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'shared-history');
  mkdirSync(data);
  chmodSync(data, 0o755);
  const proc = startProc(t, chatArgs(dir, 'alice', deadMessenger(), data), { SIGNAL_CLIENT: 'false' });
  const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)));
  assert.equal(code, 1);
  assert.match(proc.output(), new RegExp(`chat history directory ${data} is open to group/others \\(mode 0755\\); fix it with: chmod 700 ${data}`));
  assert.deepEqual(readdirSync(data), [], 'nothing was written into it');
});

test('files an older version left readable (0644) are made 0600 at start', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'old-history');
  const first = await startChat(t, dir, 'alice', deadMessenger(), { data });
  await first.proc.kill();
  for (const f of filesIn(data)) chmodSync(f, 0o644);
  writeFileSync(join(data, 'LOG.old'), 'old log\n', { mode: 0o644 });
  const again = await startChat(t, dir, 'alice', deadMessenger(), { data });
  for (const f of filesIn(data)) assert.equal(mode(f), '0600', f);
  await again.proc.kill();
});

test('a second chat on the same history directory fails at start with a clear message; the first goes on', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const messenger = deadMessenger();
  const first = await startChat(t, dir, 'alice', messenger);
  const second = startProc(t, chatArgs(dir, 'alice', messenger), { SIGNAL_CLIENT: 'false' });
  const code = await new Promise<number | null>((r) => second.child.once('exit', (c) => r(c)));
  assert.equal(code, 1);
  assert.match(second.output(), /^chat: cannot open chat history in \S+alice-history: .*(lock|LOCK)/m);
  assert.match(second.output(), /is another chat already running on it\?/);
  assert.doesNotMatch(second.output(), /open http/, 'the second never served a page');
  // The first still works.
  const ws = await ChatSocket.open(t, first.url);
  ws.send({ type: 'send', peer: generateKeyPair().publicKey.toString('hex'), text: 'still mine' });
  await ws.waitFor((m) => m.type === 'message', 'a message stored by the first chat');
  await first.proc.kill();
});

test('a text of 8 KiB of UTF-8 is accepted; one byte more is refused with the limit named', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const chat = await startChat(t, dir, 'alice', deadMessenger());
  const ws = await ChatSocket.open(t, chat.url);
  const peer = generateKeyPair().publicKey.toString('hex');
  const max = 'é'.repeat(4096); // 8192 bytes in UTF-8, 4096 characters
  ws.send({ type: 'send', peer, text: max });
  const stored = await ws.waitFor((m) => m.type === 'message', 'the 8 KiB message');
  assert.equal((stored.message as { text: string }).text, max);
  for (const over of [max + 'x', 'x'.repeat(8193)]) {
    const from = ws.seen.length;
    ws.send({ type: 'send', peer, text: over });
    const err = await ws.waitFor((m) => m.type === 'error', 'the refusal', 15_000, from);
    assert.equal(err.message, 'message is longer than 8192 bytes');
  }
  await chat.proc.kill();
});

test('the page API answers null, arrays and wrong types with an error and goes on', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const chat = await startChat(t, dir, 'alice', deadMessenger());
  const ws = await ChatSocket.open(t, chat.url);
  await ws.waitFor((m) => m.type === 'init', 'init');
  const bad = ['null', '[]', '"send"', '7', '{}', '{"type":null}', '{"type":["send"]}', '{"type":"send","peer":null,"text":"x"}',
    '{"type":"accept","peer":5}', '{"type":"ignore"}', '{"type":"addContact","pk":[],"nickname":""}', '{"type":"open","peer":{}}'];
  const from = ws.seen.length;
  for (const b of bad) ws.ws.send(b);
  await ws.waitFor(() => ws.seen.slice(from).filter((m) => m.type === 'error').length === bad.length, 'an error for each', 15_000, from);
  // In order: JSON that is not an object is refused by the GUI server before the chat sees it; the rest by the chat.
  const errors = ws.seen.slice(from).filter((m) => m.type === 'error').map((m) => m.message);
  const notObject = (b: string) => { const v: unknown = JSON.parse(b); return typeof v !== 'object' || v === null || Array.isArray(v); };
  assert.deepEqual(errors, bad.map((b) => (notObject(b) ? 'malformed message: not a JSON object' : 'malformed request')));
  ws.send({ type: 'send', peer: generateKeyPair().publicKey.toString('hex'), text: 'after the garbage' });
  const ok = await ws.next((m) => m.type === 'message', 'a message stored after the garbage');
  assert.equal((ok.message as { text: string }).text, 'after the garbage');
  await chat.proc.kill();
});
