// Strangers writing to a chat: a real `skywire chat`, a real messenger, and 200 other keys on it. Their messages
// become a bounded request list (never contacts, never history) until the user accepts or ignores them, and
// whatever a peer sends that is not a chat payload (null, [], wrong types, over-long text) changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatSocket, Peer, startChat, startMessenger, type Json } from './helpers.js';
import { MAX_REQUEST_MESSAGES, MAX_REQUESTS, MAX_TEXT_BYTES, type RequestStats } from '../../../src/apps/chat/app.js';

interface RequestView {
  pk: string;
  count: number;
  preview: string;
}
const stats = (m: Json) => m.stats as RequestStats;
const list = (m: Json) => m.requests as RequestView[];
const id = (n: number) => n.toString(16).padStart(24, '0');

test('200 strangers: contacts do not grow, requests stay bounded, accepting one makes it a contact with its message', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-requests-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { address: messenger } = await startMessenger(t, dir);
  const chat = await startChat(t, dir, 'alice', messenger, { online: true });
  const ws = await ChatSocket.open(t, chat.url);
  const init = await ws.waitFor((m) => m.type === 'init', 'init');
  assert.deepEqual(init.contacts, []);

  const strangers = Array.from({ length: 200 }, () => new Peer(messenger, chat.pk));
  t.after(() => Promise.all(strangers.map((s) => s.close())));
  await Promise.all(strangers.map((s) => s.start()));
  const text = (i: number) => `hello from stranger ${i} `.padEnd(1000, '.');
  const processed = (n: number) => (m: Json) => m.type === 'requests' && stats(m).requests + stats(m).droppedRequests === n;

  // In two waves, so that which requests are the oldest is known.
  await Promise.all(strangers.slice(0, 150).map((s, i) => s.sendMessage(id(i), text(i))));
  await ws.waitFor(processed(150), '150 strangers processed');
  await Promise.all(strangers.slice(150).map((s, i) => s.sendMessage(id(150 + i), text(150 + i))));
  const after = await ws.waitFor(processed(200), '200 strangers processed');

  assert.deepEqual(stats(after), { requests: MAX_REQUESTS, messages: MAX_REQUESTS, textBytes: MAX_REQUESTS * 1000, droppedRequests: 150, ignoredDatagrams: 0 });
  assert.deepEqual(new Set(list(after).map((r) => r.pk)), new Set(strangers.slice(150).map((s) => s.pk)), 'the newest 50 are kept');
  assert.ok(list(after).every((r) => r.count === 1 && r.preview.length <= 280));

  // One stranger sends many (and the same one again, as its outbox would): only its first few are held.
  const talker = strangers[199];
  for (let n = 0; n < 12; n++) await talker.sendMessage(id(1000 + n), 'more'.padEnd(MAX_TEXT_BYTES, '!'));
  await talker.sendMessage(id(1000), 'more'.padEnd(MAX_TEXT_BYTES, '!'));
  const flood = await ws.waitFor((m) => m.type === 'requests' && list(m).some((r) => r.pk === talker.pk && r.count === 13), 'the talker counted');
  assert.equal(stats(flood).messages, MAX_REQUESTS + MAX_REQUEST_MESSAGES - 1);
  assert.equal(stats(flood).textBytes, (MAX_REQUESTS - 1) * 1000 + 1000 + (MAX_REQUEST_MESSAGES - 1) * MAX_TEXT_BYTES);
  assert.ok(stats(flood).textBytes <= MAX_REQUESTS * MAX_REQUEST_MESSAGES * MAX_TEXT_BYTES, 'held text is bounded');

  // A hostile stranger: datagrams that open fine but are not chat payloads, and ones that do not open.
  const hostile = strangers[198];
  for (const bad of ['null', '[]', '42', '"msg"', '{"t":"msg"}', '{"t":"msg","id":5,"ts":1,"text":"x"}',
    `{"t":"msg","id":"${id(7)}","ts":"now","text":"x"}`, `{"t":"msg","id":"${id(7)}","ts":1e400,"text":"x"}`,
    `{"t":"msg","id":"${id(7)}","ts":1,"text":null}`, `{"t":"msg","id":"${id(7)}","ts":1,"text":"${'y'.repeat(MAX_TEXT_BYTES + 1)}"}`,
    '{"t":"ack","s":"read","ids":null}', '{"t":"ack","s":"read","ids":[1,2]}', '{"t":"hello"}', '{"t":["msg"]}', 'not json']) {
    await hostile.sendPlain(bad);
  }
  await hostile.sendRaw(Buffer.from('SKC1 not sealed at all, just bytes'));
  await hostile.sendMessage(id(8), 'a real second message');
  const h = await ws.waitFor((m) => m.type === 'requests' && list(m).some((r) => r.pk === hostile.pk && r.count === 2), 'the hostile stranger\'s real message');
  assert.equal(stats(h).requests, MAX_REQUESTS, 'nothing malformed made a request or a contact');

  // Accept the talker: a contact now, with the messages that were held, acknowledged to it.
  const beforeAccept = ws.seen.length;
  ws.send({ type: 'accept', peer: talker.pk, nickname: 'talker' });
  const contacts = await ws.next((m) => m.type === 'contacts' && (m.contacts as unknown[]).length > 0, 'the new contact');
  assert.deepEqual((contacts.contacts as Array<{ pk: string; nickname: string }>).map((c) => [c.pk, c.nickname]), [[talker.pk, 'talker']]);
  const ack = await talker.waitFor((p) => p.t === 'ack' && p.s === 'delivered', 'the delivery ack');
  const held = [id(199), ...Array.from({ length: MAX_REQUEST_MESSAGES - 1 }, (_, n) => id(1000 + n))];
  assert.deepEqual(ack.ids, held);
  await talker.waitFor((p) => p.t === 'hello', 'hello (re-send the rest)');
  ws.send({ type: 'open', peer: talker.pk });
  const history = await ws.next((m) => m.type === 'history', 'the history');
  assert.deepEqual((history.messages as Array<{ id: string; dir: string }>).map((m) => [m.id, m.dir]), held.map((i) => [i, 'in']));
  assert.equal((history.messages as Array<{ text: string }>)[0].text, text(199));
  const gone = await ws.waitFor((m) => m.type === 'requests' && !list(m).some((r) => r.pk === talker.pk), 'the request gone', 15_000, beforeAccept);
  assert.equal(stats(gone).requests, MAX_REQUESTS - 1);

  // Being a contact now, its next message goes to the history and is acknowledged at once.
  await talker.sendMessage(id(2000), 'now as a contact');
  await talker.waitFor((p) => p.t === 'ack' && (p.ids as string[]).includes(id(2000)), 'ack of a contact message');

  // Ignore the hostile one: its request goes, and what it sends later is dropped and counted.
  ws.send({ type: 'ignore', peer: hostile.pk });
  await ws.next((m) => m.type === 'requests' && !list(m).some((r) => r.pk === hostile.pk), 'the ignored request gone');
  await hostile.sendMessage(id(9), 'let me in');
  const ignored = await ws.waitFor((m) => m.type === 'requests' && stats(m).ignoredDatagrams === 1, 'the ignored datagram counted');
  assert.equal(stats(ignored).requests, MAX_REQUESTS - 2);

  // A fresh page sees exactly one contact.
  const fresh = await ChatSocket.open(t, chat.url);
  const finit = await fresh.waitFor((m) => m.type === 'init', 'init');
  assert.deepEqual((finit.contacts as Array<{ pk: string }>).map((c) => c.pk), [talker.pk]);
  assert.equal(list(finit).length, MAX_REQUESTS - 2);
  await chat.proc.kill();
});
