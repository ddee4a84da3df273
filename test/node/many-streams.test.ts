// 2,000 SOCKS connections at once from one client, through real processes: socks-client (beside node A) ->
// A -> B -> C -> socks-server -> a local echo server. Every one must succeed with its own bytes back: the
// route id pools and the app API's listen backlog are sized for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { dialRetry, testCluster, waitTransports } from './harness.js';
import { AppClient } from '../../src/node/sdk/index.js';

const CONNECTIONS = 2000;
const PAYLOAD = 512;

/** One SOCKS5 CONNECT to 127.0.0.1:port, a payload echoed back; resolves with what came back (or the failure). */
function socksEcho(socksPort: number, port: number, payload: Buffer): Promise<Buffer | Error> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ host: '127.0.0.1', port: socksPort });
    const req = Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
    let buf = Buffer.alloc(0);
    let replied = false;
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(new Error(`no echo within 150 s (${buf.length} bytes)`));
    }, 150_000);
    sock.on('connect', () => sock.write(req));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!replied && buf.length >= 12) {
        if (buf[1] !== 0 || buf[3] !== 0) {
          clearTimeout(timer);
          sock.destroy();
          resolve(new Error(`SOCKS refused: method ${buf[1]}, reply ${buf[3]}`));
          return;
        }
        replied = true;
        buf = buf.subarray(12);
        sock.write(payload);
      }
      if (replied && buf.length >= payload.length) {
        clearTimeout(timer);
        sock.end();
        resolve(buf);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(new Error(`closed after ${buf.length} bytes`));
    });
  });
}

test(`${CONNECTIONS} concurrent SOCKS connections through a 3-node mesh all succeed with their own bytes`, { timeout: 240_000 }, async (t) => {
  const { c, apps } = testCluster(t);
  const echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  echo.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  await once(echo, 'listening');
  t.after(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;

  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  const cc = await c.node([b.pk]);
  await waitTransports(b, [a.pk, cc.pk]);
  await c.spawn(['socks-server', '--api-file', cc.apiFile, '--allow', '127.0.0.0/8'], {}, [], /^socks-server: serving/);
  const sc = await c.spawn(
    ['socks-client', '--api-file', a.apiFile, '--listen', '127.0.0.1:0', '--server', cc.pk],
    {},
    [],
    /^socks-client: SOCKS5 on/,
  );
  const socksPort = Number(/127\.0\.0\.1:(\d+)/.exec(sc.info.line)![1]);
  // Wait until the manager can route A -> C (an event we can observe: a dial through the same path works).
  const probe = await AppClient.connect({ apiFile: a.apiFile, name: 'probe' });
  apps.push(probe);
  (await dialRetry(probe, cc.pk, 1)).destroy();

  const started = Date.now();
  const payloads = Array.from({ length: CONNECTIONS }, (_, i) => Buffer.alloc(PAYLOAD, `connection ${i} `));
  const results = await Promise.all(payloads.map((p) => socksEcho(socksPort, echoPort, p)));
  const failed = results.map((r, i) => [i, r] as const).filter(([i, r]) => r instanceof Error || !r.equals(payloads[i]));
  const reasons = new Map<string, number>();
  for (const [, r] of failed) {
    const k = r instanceof Error ? r.message : 'wrong bytes';
    reasons.set(k, (reasons.get(k) ?? 0) + 1);
  }
  // What the socks-client logged for the failures, counted (keys shortened so that equal causes group).
  const logged = new Map<string, number>();
  for (const m of sc.stderr().matchAll(/"error":"([^"]*)"/g)) {
    const k = m[1].replace(/[0-9a-f]{8}/g, 'X');
    logged.set(k, (logged.get(k) ?? 0) + 1);
  }
  assert.equal(failed.length, 0, `${failed.length} of ${CONNECTIONS} failed: ${JSON.stringify([...reasons])}; socks-client: ${JSON.stringify([...logged])}`);
  t.diagnostic(`${CONNECTIONS} connections done in ${Date.now() - started} ms`);

});
