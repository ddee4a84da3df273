// What a node refuses: rules from untrusted managers, garbage on transports, bad app API usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { dialSecure } from '../../src/net/tcp.js';
import { parseHostPort } from '../../src/util/hostport.js';
import { AppClient, AppApiError, apiRequest, resolveApi } from '../../src/node/sdk/index.js';
import { encodePacket, PacketType } from '../../src/node/packet.js';
import { CLI, Cluster, dialRetry, echoApp, roundTrip, status, testCluster, waitFor, waitTransports } from './harness.js';

const run = promisify(execFile);

function frame(obj: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

test('a node rejects control channels from manager keys it does not trust', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  await c.startCore();
  const node = await c.node();
  const rogue = generateKeyPair();
  const { host, port } = parseHostPort(node.info.listen);
  const ch = await dialSecure(host, port, Buffer.from(node.pk, 'hex'), { localKey: rogue });
  ch.on('error', () => {});
  ch.resume();
  const closed = new Promise((r) => ch.once('close', r));
  ch.write(Buffer.concat([Buffer.from('C'), frame({ t: 'reserve', id: 1, count: 1, routeKey: 'x' })]));
  await closed;
  const s = await status(node.apiFile);
  assert.equal((s.dropped as Record<string, number>).rejectedControl, 1);
  assert.deepEqual(s.rules, []);
  await waitFor('the rejection in the log', () => node.stderr().includes('rejected control channel from an untrusted manager key'));
  assert.match(node.stderr(), new RegExp(pkToHex(rogue.publicKey).slice(0, 8)));

  // A node whose only trusted manager is some other key gets no routes: dials fail with one clear line.
  const other = await c.spawn([
    'node', '--key', `${c.dir}/other.json`, '--messenger', c.messenger, '--manager', pkToHex(generateKeyPair().publicKey), '--json',
  ]);
  const app = await AppClient.connect({ apiFile: other.info.apiFile, name: 'x' });
  t.after(() => app.close());
  await assert.rejects(app.dial(node.pk, 7), (e: AppApiError) => e.code === 'no_manager' && !e.message.includes('\n'));
});

test('garbage and mutated packets on a transport are dropped and counted; routing goes on', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  const d = await c.node([b.pk]);
  await waitTransports(b, [a.pk, d.pk]);
  // A peer that speaks the transport handshake, then sends junk.
  const evil = generateKeyPair();
  const { host, port } = parseHostPort(b.info.listen);
  const ch = await dialSecure(host, port, Buffer.from(b.pk, 'hex'), { localKey: evil });
  ch.on('error', () => {});
  ch.resume();
  ch.write(Buffer.from('T'));
  const send = (b: Buffer) => new Promise((r) => ch.write(b, r));
  // Well-formed packets for a route that does not exist, then a header with an unknown type, then junk.
  const valid = encodePacket(PacketType.DATA, 12345, Buffer.from('no such route'));
  for (let i = 0; i < 100; i++) await send(valid);
  await send(Buffer.from([0x42, 0, 0, 0, 1, 0, 3, 1, 2, 3]));
  for (let i = 0; i < 200; i++) {
    const m = Buffer.from(valid);
    m[Math.floor(Math.random() * m.length)] ^= 1 + Math.floor(Math.random() * 255);
    await send(i % 2 ? randomBytes(1 + Math.floor(Math.random() * 100)) : m);
  }
  await waitFor('the junk to be counted', async () => {
    const s = await status(b.apiFile);
    const dr = s.dropped as Record<string, number>;
    return dr.unknownRoute >= 100 && dr.malformed >= 1;
  });
  ch.destroy();
  apps.push(await echoApp(d.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, d.pk, 7);
  assert.equal((await roundTrip(sock, Buffer.from('still routing'))).toString(), 'still routing');
});

test('bad app API usage is answered with one-line errors', async (t) => {
  const c = new Cluster();
  const apps: AppClient[] = [];
  t.after(async () => {
    await Promise.all(apps.map((x) => x.close()));
    await c.stop();
  });
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  const lonely = await c.node();
  await waitTransports(b, [a.pk]);
  const { api, token } = JSON.parse(readFileSync(a.apiFile, 'utf8')) as { api: string; token: string };
  const oneLine = (code: string, re: RegExp) => (e: AppApiError) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'));
    return true;
  };

  await assert.rejects(AppClient.connect({ api, token: 'nope', name: 'x' }), oneLine('unauthorized', /token/));
  apps.push(await echoApp(b.apiFile, 7));
  await assert.rejects(echoApp(b.apiFile, 7), oneLine('port_taken', /port 7 is already taken by app "echo"/));
  await assert.rejects(
    apiRequest(api, { op: 'dial', token, session: 'nope', pk: b.pk, port: 7 }),
    oneLine('not_registered', /register the app/),
  );
  const app = await AppClient.connect({ api, token, name: 'client' });
  apps.push(app);
  await assert.rejects(app.dial('xyz', 7), oneLine('bad_request', /not a public key/));
  await assert.rejects(app.dial(pkToHex(generateKeyPair().publicKey), 7), oneLine('offline', /is offline/));
  await dialRetry(app, b.pk, 7).then((s) => s.destroy());
  await assert.rejects(app.dial(b.pk, 8), oneLine('refused', /nothing listens on port 8/));
  await assert.rejects(app.dial(b.pk, 7, { minHops: 3 }), oneLine('min_hops', /at least 3 hops/));
  // The manager learns of the lonely node a moment after it starts (under load, after this point): until then
  // the answer is "offline"; once it knows the node, a node without transports has no path.
  let lonelyErr: AppApiError | undefined;
  await waitFor('the manager to know the lonely node', async () => {
    lonelyErr = await app.dial(lonely.pk, 7).then(
      (s) => void s.destroy(),
      (e: AppApiError) => e,
    );
    return lonelyErr?.code !== 'offline';
  });
  assert.ok(lonelyErr, 'a node without transports must not be reachable');
  oneLine('no_route', /no path/)(lonelyErr);

  // CLI misuse: one line on stderr and a non-zero exit.
  await assert.rejects(run(process.execPath, [CLI, 'ping', 'zz']), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr.trim(), /^skywire ping: .*zz/);
    return true;
  });
  await assert.rejects(run(process.execPath, [CLI, 'node', 'status', '--api-file', `${c.dir}/none.json`]), (e: { stderr: string }) => {
    assert.match(e.stderr.trim(), /^skywire node: cannot read node API file/);
    return true;
  });
});

test('the SDK finds its node from the environment or the 0600 api file the node writes', async (t) => {
  const c = new Cluster();
  t.after(() => c.stop());
  await c.startCore();
  const node = await c.node();
  assert.equal(statSync(node.apiFile).mode & 0o777, 0o600);
  const { api, token, pk } = JSON.parse(readFileSync(node.apiFile, 'utf8')) as { api: string; token: string; pk: string };
  assert.equal(pk, node.pk);
  const saved = { ...process.env };
  t.after(() => {
    for (const k of ['SKYWIRE_APP_API', 'SKYWIRE_APP_TOKEN', 'SKYWIRE_APP_API_FILE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  for (const k of ['SKYWIRE_APP_API', 'SKYWIRE_APP_TOKEN', 'SKYWIRE_APP_API_FILE']) delete process.env[k];
  assert.throws(() => resolveApi({}), (e: AppApiError) => e.code === 'bad_config' && !e.message.includes('\n'));
  process.env.SKYWIRE_APP_API = api;
  process.env.SKYWIRE_APP_TOKEN = token;
  const viaEnv = await AppClient.connect({ name: 'env' });
  assert.equal(viaEnv.localPk, node.pk);
  await viaEnv.close();
  delete process.env.SKYWIRE_APP_API;
  delete process.env.SKYWIRE_APP_TOKEN;
  process.env.SKYWIRE_APP_API_FILE = node.apiFile;
  const viaFile = await AppClient.connect({ name: 'file' });
  assert.equal(viaFile.localPk, node.pk);
  assert.ok(viaFile.port >= 49152, 'a port is picked when the app names none');
  await viaFile.close();
});
