// Bulk data over routes of real node processes: integrity, bounded memory in the middle, end-to-end secrecy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { Cluster, diamond, dialRetry, status, testCluster, waitTransports } from './harness.js';

type NodeProc = Awaited<ReturnType<Cluster['node']>>;

async function chain(c: Cluster, n: number, env: (i: number) => Record<string, string> = () => ({})): Promise<NodeProc[]> {
  await c.startCore();
  const nodes = [await c.node([], [], env(0))];
  for (let i = 1; i < n; i++) nodes.push(await c.node([nodes[i - 1].pk], [], env(i)));
  for (let i = 1; i < n; i++) await waitTransports(nodes[i], [nodes[i - 1].pk]);
  return nodes;
}

/** A receiving app that hashes each stream; `paused` streams are not read until resume() is called. */
async function sink(apiFile: string, paused = false) {
  const app = await AppClient.connect({ apiFile, name: 'sink', port: 9 });
  let resume: () => void = () => {};
  const done = new Promise<{ bytes: number; sha: string }>((resolve, reject) => {
    app.listen((sock: Socket) => {
      const h = createHash('sha256');
      let bytes = 0;
      sock.on('data', (d: Buffer) => {
        h.update(d);
        bytes += d.length;
      });
      sock.on('end', () => {
        resolve({ bytes, sha: h.digest('hex') });
        sock.end();
      });
      sock.on('error', reject);
      if (paused) {
        sock.pause();
        resume = () => sock.resume();
      }
    });
  });
  return { app, done, resume: () => resume() };
}

/** Writes `total` bytes of varied data with backpressure; reports how far it got. */
function pump(sock: Socket, total: number) {
  const block = randomBytes(1 << 20);
  const h = createHash('sha256');
  const state = { written: 0, blockedSince: 0 };
  const finished = new Promise<string>((resolve, reject) => {
    sock.on('error', reject);
    const more = () => {
      while (state.written < total) {
        const n = Math.min(block.length, total - state.written);
        block.writeUInt32BE(state.written / block.length, 0);
        const piece = Buffer.from(block.subarray(0, n));
        h.update(piece);
        state.written += n;
        if (!sock.write(piece)) {
          state.blockedSince = Date.now();
          sock.once('drain', () => {
            state.blockedSince = 0;
            more();
          });
          return;
        }
      }
      sock.end(() => resolve(h.digest('hex')));
    };
    more();
  });
  return { state, finished };
}

test('100 MB through 3 intermediate nodes arrive intact (SHA-256)', async (t) => {
  const { c, apps } = testCluster(t);
  const n = await chain(c, 5);
  const s = await sink(n[4].apiFile);
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'src' });
  apps.push(s.app, client);
  const sock = await dialRetry(client, n[4].pk, 9, { minHops: 4 });
  const total = 100 * 1024 * 1024;
  const t0 = performance.now();
  const p = pump(sock, total);
  const [sent, got] = await Promise.all([p.finished, s.done]);
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`100 MB over 4 hops in ${secs.toFixed(2)} s (${(100 / secs).toFixed(1)} MB/s)`);
  assert.equal(got.bytes, total);
  assert.equal(got.sha, sent);
  // Bulk bytes travel in (nearly) full packets: a route end fills each packet (65528 bytes of payload) rather
  // than sending every end-to-end message (65569 bytes) as a full packet plus a 41-byte one.
  const mid = (await status(n[2].apiFile)).transports as unknown as Array<{ pk: string; bytesOut: number; packetsOut: number }>;
  const toNext = mid.find((x) => x.pk === n[3].pk)!;
  const avg = toNext.bytesOut / toNext.packetsOut;
  t.diagnostic(`middle node: ${toNext.packetsOut} packets out, ${avg.toFixed(0)} bytes on average`);
  assert.ok(avg > 45_000, `packets average ${avg.toFixed(0)} bytes`);
});

/** Throws when /proc cannot tell (no /proc, or the process is gone): a bound on an unread memory must not pass. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

test('a slow receiver slows the sender; the middle node memory stays bounded', async (t) => {
  const { c, apps } = testCluster(t);
  const n = await chain(c, 3);
  const s = await sink(n[2].apiFile, true);
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'src' });
  apps.push(s.app, client);
  const sock = await dialRetry(client, n[2].pk, 9);
  const midPid = n[1].child.pid!;
  const before = rssMb(midPid);
  const total = 160 * 1024 * 1024;
  const p = pump(sock, total);
  let peak = before;
  let unread: Error | undefined; // kept and asserted below: a throw inside the timer would fail nothing
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(midPid));
    } catch (err) {
      unread ??= err as Error;
    }
  }, 20);
  t.after(() => clearInterval(sampler));
  // The receiver reads nothing: the sender must end up blocked well before it has written everything.
  const blockedFor = 700;
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (p.state.blockedSince && Date.now() - p.state.blockedSince > blockedFor) {
        clearInterval(check);
        resolve();
      } else if (p.state.written >= total) {
        clearInterval(check);
        reject(new Error('the sender wrote everything although nobody reads'));
      }
    }, 20);
  });
  const stalledAt = p.state.written;
  t.diagnostic(`sender blocked after ${(stalledAt / 1048576).toFixed(1)} MB; middle node RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`);
  assert.ok(stalledAt < total / 2, `sender got ${stalledAt} bytes out`);
  assert.ifError(unread);
  assert.ok(peak - before < 60, `middle node grew by ${(peak - before).toFixed(1)} MB`);
  s.resume();
  const [sent, got] = await Promise.all([p.finished, s.done]);
  clearInterval(sampler);
  assert.equal(got.sha, sent);
  assert.ifError(unread);
  assert.ok(peak - before < 60, `middle node grew by ${(peak - before).toFixed(1)} MB`);
});

test('an intermediate node sees only ciphertext: a marker sent end to end never appears in its packets', async (t) => {
  const { c, apps } = testCluster(t);
  const tap = join(c.dir, 'tap.bin');
  const n = await chain(c, 3, (i): Record<string, string> => (i === 1 ? { SKYWIRE_PACKET_TAP: tap } : {}));
  const s = await sink(n[2].apiFile);
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'src' });
  apps.push(s.app, client);
  const sock = await dialRetry(client, n[2].pk, 9);
  const marker = 'MARKER-7f3a-end-to-end-secret;';
  const payload = Buffer.from(marker.repeat(5000));
  sock.end(payload);
  const got = await s.done;
  assert.equal(got.bytes, payload.length);
  const seen = readFileSync(tap);
  assert.ok(seen.length >= payload.length, `the tap recorded ${seen.length} bytes`);
  assert.equal(seen.includes(Buffer.from('MARKER-7f3a')), false);
});

test('a stalled stream does not hold up another stream on the same path (per-route window)', async (t) => {
  const { c, apps } = testCluster(t);
  const n = await chain(c, 3);
  const stalled = await sink(n[2].apiFile, true);
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'src' });
  apps.push(stalled.app, client);
  const slowSock = await dialRetry(client, n[2].pk, 9);
  const slow = pump(slowSock, 64 * 1024 * 1024);
  // Fill the stalled stream's window first.
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (slow.state.blockedSince && Date.now() - slow.state.blockedSince > 300) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  const other = await AppClient.connect({ apiFile: n[2].apiFile, name: 'other', port: 10 });
  apps.push(other);
  const got = new Promise<{ bytes: number; sha: string }>((resolve) => {
    other.listen((sock) => {
      const h = createHash('sha256');
      let bytes = 0;
      sock.on('data', (d: Buffer) => {
        h.update(d);
        bytes += d.length;
      });
      sock.on('end', () => resolve({ bytes, sha: h.digest('hex') }));
    });
  });
  const p = pump(await dialRetry(client, n[2].pk, 10), 20 * 1024 * 1024);
  const [sent, r] = await Promise.all([p.finished, got]);
  assert.equal(r.sha, sent, 'the second stream got all its 20 MB while the first one stalled');
  stalled.resume();
  const [sentSlow, gotSlow] = await Promise.all([slow.finished, stalled.done]);
  assert.equal(gotSlow.sha, sentSlow);
});

test('a half-closed stream still carries a large answer', async (t) => {
  const { c, apps } = testCluster(t);
  const n = await chain(c, 3);
  const answer = randomBytes(12 * 1024 * 1024);
  const server = await AppClient.connect({ apiFile: n[2].apiFile, name: 'server', port: 11 });
  server.listen((sock) => {
    sock.resume();
    sock.on('end', () => sock.end(answer));
  });
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'client' });
  apps.push(server, client);
  const sock = await dialRetry(client, n[2].pk, 11);
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
  });
  sock.end('GET everything');
  assert.ok((await done).equals(answer));
});

test('a bulk transfer survives the death of its middle node: the route moves and no byte is lost', async (t) => {
  const { c, apps } = testCluster(t);
  const { a, b, m, d } = await diamond(c);
  const server = await AppClient.connect({ apiFile: d.apiFile, name: 'sink', port: 9 });
  let received = 0;
  let progress: () => void = () => {};
  const done = new Promise<string>((resolve, reject) => {
    server.listen((sock) => {
      const h = createHash('sha256');
      sock.on('data', (x: Buffer) => {
        h.update(x);
        received += x.length;
        progress();
      });
      sock.on('end', () => resolve(h.digest('hex')));
      sock.on('error', reject);
    });
  });
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'src' });
  apps.push(server, client);
  const sock = await dialRetry(client, d.pk, 9);
  const p = pump(sock, 80 * 1024 * 1024);
  await new Promise<void>((resolve) => {
    progress = () => {
      if (received >= 10 * 1024 * 1024) {
        progress = () => {};
        resolve();
      }
    };
  });
  const [sb] = await Promise.all([status(b.apiFile)]);
  const victim = (sb.rules as unknown[]).length > 0 ? b : m;
  await victim.kill('SIGKILL');
  const [sent, got] = await Promise.all([p.finished, done]);
  assert.equal(got, sent, 'the stream arrived whole and in order');
  assert.equal(received, 80 * 1024 * 1024);
});

test("an app's socket reset reaches the far end's app as a reset, not a clean end", async (t) => {
  const { c, apps } = testCluster(t);
  const n = await chain(c, 3);
  const server = await AppClient.connect({ apiFile: n[2].apiFile, name: 'server', port: 9 });
  apps.push(server);
  const far = new Promise<Socket>((resolve) => server.listen((s: Socket) => resolve(s)));
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, n[2].pk, 9);
  sock.write('hello');
  const s = await far;
  await new Promise((r) => s.once('data', r));
  const ended = new Promise<string>((resolve) => {
    s.on('end', () => resolve('clean end'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  sock.resetAndDestroy();
  assert.equal(await ended, 'ECONNRESET');
});

test('an incoming stream no app accepts is closed with an error at the dialer (accept timeout)', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  // The accept timeout (10 s by default) shortened for the test.
  const b = await c.node([a.pk], [], { SKYWIRE_ACCEPT_TIMEOUT_MS: '300' });
  await waitTransports(b, [a.pk]);
  // An app that registers port 9 but never listens: the node announces each stream and nobody takes it.
  const idle = await AppClient.connect({ apiFile: b.apiFile, name: 'idle', port: 9 });
  apps.push(idle);
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, b.pk, 9);
  const outcome = await new Promise<string>((resolve) => {
    sock.on('end', () => resolve('clean end'));
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    sock.resume();
  });
  assert.equal(outcome, 'ECONNRESET');
});
