// The JSON control link between nodes and node managers, over a real secure channel: requests and replies,
// and messages of the wrong shape (issue 17), which close that link with a reason and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { generateKeyPair } from '../../src/net/keys.js';
import type { SecureChannel } from '../../src/net/secure.js';
import { dialSecure, listenSecure } from '../../src/net/tcp.js';
import { ControlError, ControlLink, type ControlMessage } from '../../src/net/control-link.js';

const SERVER = generateKeyPair();

/** A listener whose every channel gets a ControlLink answering {t:'echo'} requests; links are collected. */
async function serveLinks(t: { after(fn: () => unknown): void }) {
  const links = new EventEmitter();
  const requests: ControlMessage[] = [];
  const l = await listenSecure({ localKey: SERVER }, (ch) => {
    const link = new ControlLink(ch, (m) => {
      requests.push(m);
      links.emit('request', requests.length);
      if (m.t !== 'echo') throw new ControlError('unknown', `unknown request ${m.t}`);
      return { echoed: m.value };
    });
    links.emit('link', link);
  });
  t.after(() => l.close());
  return { port: l.address().port, links, requests };
}

async function dial(t: { after(fn: () => unknown): void }, port: number): Promise<SecureChannel> {
  const ch = await dialSecure('127.0.0.1', port, SERVER.publicKey, { localKey: generateKeyPair() });
  t.after(() => ch.destroy());
  return ch;
}

function frame(json: string): Buffer {
  const body = Buffer.from(json);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

test('requests are answered by id, errors come back as ControlError with their code', async (t) => {
  const srv = await serveLinks(t);
  const link = new ControlLink(await dial(t, srv.port), () => undefined);
  const r = await link.request({ t: 'echo', value: 42 });
  assert.equal(r.echoed, 42);
  await assert.rejects(link.request({ t: 'nope' }), (e: unknown) => e instanceof ControlError && e.code === 'unknown' && /unknown request nope/.test(e.message));
  link.close();
});

test('messages of the wrong shape close that link with a reason; the listener serves the next link', async (t) => {
  const srv = await serveLinks(t);
  const cases: Array<[string, RegExp]> = [
    ['null', /not an object/],
    ['[]', /not an object/],
    ['1', /not an object/],
    ['"x"', /not an object/],
    ['{}', /"t" must be a string/],
    ['{"t":5}', /"t" must be a string/],
    ['{"t":"echo","id":"1"}', /"id" must be a non-negative integer/],
    ['{"t":"echo","id":-1}', /"id" must be a non-negative integer/],
    ['{"t":"echo","id":1.5}', /"id" must be a non-negative integer/],
    ['{"t":"reply","id":1,"ok":"yes"}', /"ok" must be a boolean/],
    ['{"t":"reply","ok":true}', /"id" must be a non-negative integer/],
    ['{"t":"reply","id":1,"ok":false,"code":7}', /"code" must be a string/],
    ['{nope', /not JSON/],
  ];
  for (const [json, reason] of cases) {
    const accepted = once(srv.links, 'link') as Promise<[ControlLink]>;
    const ch = await dial(t, srv.port);
    const [link] = await accepted;
    const gone = once(link, 'close') as Promise<[string]>;
    ch.resume(); // to see the end of the channel when the listener hangs up
    ch.write(frame(json));
    const [why] = await gone;
    assert.match(why, reason, json);
    assert.match(why, /^bad control message/, json);
    await once(ch, 'close');
  }
  assert.equal(srv.requests.length, 0, 'no malformed message reached the request handler');
  const good = new ControlLink(await dial(t, srv.port), () => undefined);
  assert.equal((await good.request({ t: 'echo', value: 'still here' })).echoed, 'still here');
  good.close();
});

test('a peer that sends requests but never reads the replies is dropped, not buffered for', async (t) => {
  const srv = await serveLinks(t);
  const accepted = once(srv.links, 'link') as Promise<[ControlLink]>;
  const ch = await dial(t, srv.port);
  const [link] = await accepted;
  const gone = once(link, 'close') as Promise<[string]>;
  ch.pause(); // never reads
  ch.on('error', () => {});
  const big = 'x'.repeat(60_000);
  let dropped = false;
  void gone.then(() => (dropped = true));
  // 32 MB of replies asked for, far more than the cap and the kernel's buffers together.
  for (let id = 1; id <= 550 && !dropped && !ch.destroyed; id++) {
    if (!ch.write(frame(JSON.stringify({ t: 'echo', id, value: big })))) {
      await new Promise<void>((resolve) => {
        ch.once('drain', resolve);
        void gone.then(() => resolve());
      });
    }
  }
  // Either the link was dropped, or every request got handled and its reply buffered: then wait for the
  // replies of the last ones to be sent (they follow their handler within the same turn of the event loop).
  const handled = new Promise<void>((resolve) => {
    const onRequest = (n: number) => {
      if (n < 550) return;
      srv.links.off('request', onRequest);
      setImmediate(resolve);
    };
    srv.links.on('request', onRequest);
  });
  await Promise.race([gone, handled]);
  assert.ok(dropped, `all ${srv.requests.length} replies were buffered for a peer that does not read`);
  const [why] = await gone;
  assert.match(why, /peer is not reading/);
  // Other links are served as before.
  const good = new ControlLink(await dial(t, srv.port), () => undefined);
  assert.equal((await good.request({ t: 'echo', value: 1 })).echoed, 1);
  good.close();
});
