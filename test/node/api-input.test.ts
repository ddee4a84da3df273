// The app API checks the shape of every JSON line before use: non-objects and wrong-typed fields from a local
// app, before and after hello, get a one-line bad_request, and the real node process keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppClient, AppApiError, resolveApi } from '../../src/node/sdk/index.js';
import { dialRetry, echoOf, testCluster, waitTransports } from './harness.js';

/** A raw connection to the API that reads the node's answers line by line. */
async function raw(api: string): Promise<{ sock: Socket; send(line: string): void; next(): Promise<Record<string, unknown>>; closed: Promise<void> }> {
  const [host, port] = api.split(':');
  const sock = connect({ host, port: Number(port) });
  await new Promise((r, j) => sock.once('connect', r).once('error', j));
  sock.on('error', () => {});
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  createInterface({ input: sock }).on('line', (l) => (waiters.length ? waiters.shift()!(l) : lines.push(l)));
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  return {
    sock,
    send: (line) => sock.write(line + '\n'),
    next: async () => {
      const l = lines.length ? lines.shift()! : await Promise.race([new Promise<string>((r) => waiters.push(r)), closed.then(() => 'CLOSED')]);
      assert.notEqual(l, 'CLOSED', 'the node closed the connection without an answer');
      return JSON.parse(l) as Record<string, unknown>;
    },
    closed,
  };
}

function assertBad(reply: Record<string, unknown>, code: string, what: string): void {
  assert.equal(reply.ok, false, `${what}: ${JSON.stringify(reply)}`);
  assert.equal(reply.code, code, `${what}: ${JSON.stringify(reply)}`);
  assert.ok(typeof reply.error === 'string' && !reply.error.includes('\n'), what);
}

test('null, arrays, numbers, strings and wrong-typed fields on the app API never take the node down', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  await waitTransports(a, [b.pk]);
  const { api, token } = JSON.parse(readFileSync(a.apiFile, 'utf8')) as { api: string; token: string };

  // First lines (before hello): each gets one error line and the connection ends.
  const firstLines: Array<[string, string]> = [
    ['null', 'bad_request'],
    ['[]', 'bad_request'],
    ['1', 'bad_request'],
    ['"x"', 'bad_request'],
    [JSON.stringify({ op: 'hello', token: [token] }), 'unauthorized'],
    [JSON.stringify({ op: 5, token }), 'bad_request'],
    [JSON.stringify({ op: 'hello', token, name: { n: 1 } }), 'bad_request'],
    [JSON.stringify({ op: 'hello', token, port: '7' }), 'bad_port'],
    [JSON.stringify({ op: 'hello', token, port: [7] }), 'bad_port'],
    [JSON.stringify({ op: 'hello', token, port: true }), 'bad_port'],
    [JSON.stringify({ op: 'dial', token, session: { s: 1 }, pk: b.pk, port: 1 }), 'bad_request'],
    [JSON.stringify({ op: 'accept', token, session: null, id: {} }), 'bad_request'],
    [JSON.stringify({ op: 'transports', token, action: 'add', pk: [b.pk] }), 'bad_request'],
    [JSON.stringify({ op: 'transports', token, action: ['ls'] }), 'bad_request'],
  ];
  for (const [line, code] of firstLines) {
    const r = await raw(api);
    r.send(line);
    assertBad(await r.next(), code, line);
    await r.closed;
  }

  // A registered app sends junk on its control connection: each line is answered, the registration stays.
  const ctl = await raw(api);
  ctl.send(JSON.stringify({ op: 'hello', token, name: 'junk', port: 40 }));
  const hello = await ctl.next();
  assert.equal(hello.ok, true);
  const session = hello.session as string;
  const afterHello = [
    'null',
    '[]',
    '1',
    '"x"',
    'NaN',
    JSON.stringify({ op: 'announce', req: 1, service: null }),
    JSON.stringify({ op: 'announce', req: 2, service: { name: 'svc', attrs: { a: { deep: 1 } } } }),
    JSON.stringify({ op: 'announce', req: 3, service: { name: 'svc', attrs: ['x'] } }),
    JSON.stringify({ op: 'announce', req: 4, service: { name: 7 } }),
    JSON.stringify({ op: 'query', req: 5, service: 5 }),
    JSON.stringify({ op: 'query', req: { x: 1 }, service: 'svc' }),
    JSON.stringify({ op: ['announce'], req: 6 }),
  ];
  for (const line of afterHello) {
    ctl.send(line);
    assertBad(await ctl.next(), 'bad_request', line);
  }
  // Streams with wrong-typed fields, on a valid session.
  for (const req of [
    { op: 'dial', token, session, pk: [b.pk], port: 1 },
    { op: 'dial', token, session, pk: b.pk, port: '1' },
    { op: 'dial', token, session, pk: b.pk, port: 1, minHops: 'x' },
    { op: 'dial', token, session, pk: b.pk, port: 1, maxHops: [] },
    { op: 'accept', token, session, id: ['s1'] },
  ]) {
    const r = await raw(api);
    r.send(JSON.stringify(req));
    assertBad(await r.next(), 'bad_request', JSON.stringify(req));
  }
  // The junk app's registration is intact, and a legitimate app is served: announce, query, a dial to b's echo.
  ctl.send(JSON.stringify({ op: 'announce', req: 9, service: { name: 'svc', attrs: { k: 'v' } } }));
  assert.deepEqual(await ctl.next(), { req: 9, ok: true });
  const app = await AppClient.connect({ api, token, name: 'legit' });
  apps.push(app);
  const found = await app.query('svc');
  assert.deepEqual(found, [{ pk: a.pk, port: 40, attrs: { k: 'v' } }]);
  const sock = await dialRetry(app, b.pk, 1);
  assert.equal(await echoOf(sock, 'still serving'), 'still serving');
  sock.destroy();
  ctl.sock.destroy();
  assert.equal(a.child.exitCode, null, a.stderr());
});

test('an api file that is not an object of strings is refused with a clear error, not a TypeError', async (t) => {
  const { c } = testCluster(t);
  for (const [body, re] of [
    ['null', /is not a JSON object/],
    ['[]', /is not a JSON object/],
    ['{"api":5,"token":"t"}', /"api" must be a string/],
    ['{"api":"127.0.0.1:1","token":{}}', /"token" must be a string/],
  ] as const) {
    const file = join(c.dir, 'bad.api.json');
    writeFileSync(file, body);
    assert.throws(
      () => resolveApi({ apiFile: file }),
      (e: AppApiError) => e instanceof AppApiError && e.code === 'bad_config' && re.test(e.message) && e.message.includes(file),
    );
  }
});
