// Routes across real node processes: a chain, a diamond with a node killed mid-route, a random mesh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { AppClient } from '../../src/node/sdk/index.js';
import { CLI, Cluster, diamond, dialRetry, echoApp, echoOf, roundTrip, status, testCluster, waitFor, waitTransports } from './harness.js';

const run = promisify(execFile);

test('a chain of 5 nodes carries a stream end to end, and ping measures the 4-hop route', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const n = [await c.node()];
  for (let i = 1; i < 5; i++) n.push(await c.node([n[i - 1].pk]));
  await waitTransports(n[2], [n[1].pk, n[3].pk]);
  await waitTransports(n[4], [n[3].pk]);
  apps.push(await echoApp(n[4].apiFile));
  const client = await AppClient.connect({ apiFile: n[0].apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, n[4].pk, 7);
  const data = randomBytes(300_000);
  assert.deepEqual(await roundTrip(sock, data), data);

  // Bytes per hop are metered on the intermediate nodes.
  const mid = await status(n[2].apiFile);
  const tr = mid.transports as Array<{ pk: string; bytesIn: number; bytesOut: number }>;
  assert.ok(tr.every((x) => x.bytesIn > data.length && x.bytesOut > data.length), JSON.stringify(tr));

  const { stdout } = await run(process.execPath, [CLI, 'ping', n[4].pk, '--hops', '4', '-c', '3', '-i', '20', '--api-file', n[0].apiFile]);
  assert.match(stdout, /3 probes transmitted, 3 received, 0% loss/);
  assert.match(stdout, /rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
  const { stdout: st } = await run(process.execPath, [CLI, 'node', 'status', '--api-file', n[2].apiFile]);
  assert.match(st, new RegExp(n[1].pk));
  assert.match(st, /dropped: unknownRoute=\d+/);
});

test('diamond: killing the middle node of a live route moves it to the other path; new dials go around', async (t) => {
  const { c, apps } = testCluster(t);
  const { a, b, m: cc, d } = await diamond(c);
  apps.push(await echoApp(d.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, d.pk, 7);
  assert.equal(await echoOf(sock, 'hello'), 'hello');
  // Which middle node carries the route?
  const [sb, sc] = await Promise.all([status(b.apiFile), status(cc.apiFile)]);
  const viaB = (sb.rules as unknown[]).length > 0;
  assert.ok(viaB || (sc.rules as unknown[]).length > 0, 'one middle node has the rules');
  const [victim, other] = viaB ? [b, cc] : [cc, b];

  await victim.kill('SIGKILL');
  // The open stream carries on over the other middle node, bytes intact.
  assert.equal(await echoOf(sock, 'still here after the kill'), 'still here after the kill');
  const s = await status(other.apiFile);
  assert.equal((s.rules as unknown[]).length, 2, 'the surviving middle node carries the route now');

  // The manager moved the stream, so its graph has lost the dead node: a new dial takes the other path at
  // the first try (no retry), and that middle node now carries both routes.
  const again = await client.dial(d.pk, 7);
  assert.equal((await roundTrip(again, Buffer.from('around'))).toString(), 'around');
  assert.ok((await status(other.apiFile)).transports.every((x) => x.pk !== victim.pk), 'no transport to the dead node');
});

test('chain: killing the only middle node fails the open stream with "route broken: ... no repair", not a hang', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  // Debug logs of the dialing node show why its stream failed.
  const a = await c.node([], [], { LOG_LEVEL: 'debug' });
  const b = await c.node([a.pk]);
  const d = await c.node([b.pk]);
  await waitTransports(b, [a.pk, d.pk]);
  apps.push(await echoApp(d.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, d.pk, 7);
  sock.write('x');
  await new Promise((r) => sock.once('data', r));
  const failed = new Promise<Error | null>((resolve) => {
    sock.on('error', (e) => resolve(e));
    sock.on('close', () => resolve(null));
  });
  await b.kill('SIGKILL');
  const err = await failed;
  assert.ok(err, 'the app sees an error (a reset), not a clean end');
  assert.equal((err as NodeJS.ErrnoException).code, 'ECONNRESET');
  // The node's stream failed with the manager's one-line reason (its log has no event: a bounded poll). The
  // manager hears of the death first either from b's control link or from a's transport report.
  const b8 = b.pk.slice(0, 8);
  const reason = new RegExp(`route broken: (node ${b8}\\S* went offline|transport \\S*${b8}\\S* lost); no repair: `);
  await waitFor('the reason in the node log', () => reason.test(a.stderr())).catch((err: Error) => {
    throw new Error(`${err.message}; the node logged:\n${a.stderr().split('\n').filter((l) => /broken|error/.test(l)).join('\n')}`);
  });
  await assert.rejects(client.dial(d.pk, 7), (e: Error & { code: string }) => e.code === 'no_route');
});

test('a random mesh of 20 nodes routes between random pairs', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const nodes: Array<Awaited<ReturnType<Cluster['node']>>> = [];
  const links = new Map<number, number[]>();
  for (let i = 0; i < 20; i++) {
    // A random spanning tree plus some extra edges keeps it connected.
    const peers = i === 0 ? [] : [Math.floor(Math.random() * i)];
    if (i > 3 && Math.random() < 0.5) peers.push(Math.floor(Math.random() * i));
    links.set(i, [...new Set(peers)]);
    nodes.push(await c.node([...new Set(peers)].map((p) => nodes[p].pk)));
  }
  for (const [i, peers] of links) if (peers.length) await waitTransports(nodes[i], peers.map((p) => nodes[p].pk));
  for (let k = 0; k < 5; k++) {
    const i = Math.floor(Math.random() * 20);
    let j = Math.floor(Math.random() * 20);
    if (j === i) j = (j + 1) % 20;
    const server = await echoApp(nodes[j].apiFile, 100 + k);
    const client = await AppClient.connect({ apiFile: nodes[i].apiFile, name: 'client' });
    apps.push(server, client);
    const sock = await dialRetry(client, nodes[j].pk, 100 + k);
    const data = randomBytes(10_000);
    assert.deepEqual(await roundTrip(sock, data), data, `route ${i} -> ${j}`);
  }
});

test('keepalives hold an idle route; rules expire when an end falls silent; closing tears a route down', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const expiry = ['--route-idle', '1000'];
  const a = await c.node([], expiry);
  const b = await c.node([a.pk], expiry);
  const d = await c.node([b.pk], expiry);
  await waitTransports(b, [a.pk, d.pk]);
  apps.push(await echoApp(d.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);

  // A closed stream leaves no rules behind on the middle node.
  const first = await dialRetry(client, d.pk, 7);
  assert.equal((await roundTrip(first, Buffer.from('x'))).toString(), 'x');
  await waitFor('rules removed after close', async () => ((await status(b.apiFile)).rules as unknown[]).length === 0);

  const sock = await dialRetry(client, d.pk, 7);
  sock.write('ping');
  await new Promise((r) => sock.once('data', r));
  const rulesAt = async () => (await status(b.apiFile)).rules as Array<{ id: number; packetsIn: number }>;
  const idle = await rulesAt();
  assert.equal(idle.length, 2);
  // Idle: each end sends a KEEPALIVE after a third of the expiry without traffic. Once each rule has carried 8
  // more packets (keepalives only: nothing else is sent), the route has been idle for over 2.5 expiry periods.
  await waitFor('8 keepalives through each rule', async () => {
    const now = await rulesAt();
    return now.length === 2 && now.every((r) => r.packetsIn >= idle.find((f) => f.id === r.id)!.packetsIn + 8);
  });
  sock.write('pong');
  await new Promise((r) => sock.once('data', r));

  // A half-closed stream outlives the idle expiry: the answer comes long after the request's end.
  const late = await AppClient.connect({ apiFile: d.apiFile, name: 'late', port: 8 });
  apps.push(late);
  late.listen((s) => {
    s.resume();
    // Answer once the open direction's rule on the middle node has lived through more than an expiry period
    // (4 keepalives at a third of it each) after the request ended.
    s.on('end', () => {
      void (async () => {
        const rules = async () => (await status(b.apiFile)).rules as Array<{ packetsIn: number }>;
        const base = (await rules()).reduce((n, r) => n + r.packetsIn, 0);
        await waitFor('keepalives on the half-closed route', async () => (await rules()).reduce((n, r) => n + r.packetsIn, 0) >= base + 4);
        s.end('late answer');
      })().catch((err: Error) => s.destroy(err));
    });
  });
  const half = await dialRetry(client, d.pk, 8);
  assert.equal((await roundTrip(half, Buffer.from('question'))).toString(), 'late answer');

  // Freeze the dialing node: its keepalives stop and the middle node's rules expire.
  process.kill(a.child.pid!, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(a.child.pid!, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  await waitFor('rules to expire', async () => ((await status(b.apiFile)).rules as Array<{ kind: string }>).length === 0, 5000);
  // A silent neighbour is declared dead (after 4 s of silence; the wait is bounded, not timed).
  await waitFor('the frozen node\'s transport to close', async () => !(await status(b.apiFile)).transports.some((x) => x.pk === a.pk), 10_000);
});

test('relayed transports through the messenger, auto-connect, and transports add/rm from the CLI', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node([], ['--no-listen']);
  const b = await c.node([a.pk]);
  await waitTransports(b, [a.pk]);
  const kind = ((await status(b.apiFile)).transports as Array<{ pk: string; kind: string }>).find((x) => x.pk === a.pk)?.kind;
  assert.equal(kind, 'relayed', 'a node without a listen address is reached through the messenger');
  apps.push(await echoApp(a.apiFile));
  const client = await AppClient.connect({ apiFile: b.apiFile, name: 'client' });
  apps.push(client);
  const data = randomBytes(200_000);
  assert.deepEqual(await roundTrip(await dialRetry(client, a.pk, 7), data), data);

  const auto = await c.node([], ['--auto-connect']);
  await waitTransports(auto, [a.pk, b.pk]);

  const { stdout: rm } = await run(process.execPath, [CLI, 'node', 'transports', 'rm', a.pk, '--api-file', auto.apiFile]);
  assert.match(rm, /removed/);
  assert.ok(!((await status(auto.apiFile)).transports as Array<{ pk: string }>).some((x) => x.pk === a.pk));
  const { stdout: add } = await run(process.execPath, [CLI, 'node', 'transports', 'add', a.pk, '--api-file', auto.apiFile]);
  assert.match(add, /is up/);
  const { stdout: ls } = await run(process.execPath, [CLI, 'node', 'transports', 'ls', '--json', '--api-file', auto.apiFile]);
  assert.ok((JSON.parse(ls) as Array<{ pk: string }>).some((x) => x.pk === a.pk));
});

test('with two trusted node managers, dials keep working when one of them dies (the other reached by relay)', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  // The second manager announces an address nobody listens on: nodes reach it through the messenger relay.
  const second = await c.spawn([
    'node-manager', '--key', `${c.dir}/manager2.json`, '--messenger', c.messenger, '--announce', '127.0.0.1:1', '--json',
  ]);
  const both = ['--manager', second.info.pk];
  const a = await c.node([], both);
  const b = await c.node([a.pk], both);
  await waitTransports(b, [a.pk]);
  await waitFor('both manager links', async () => ((await status(a.apiFile)).managers as string[]).length === 2);
  apps.push(await echoApp(b.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  assert.equal((await roundTrip(await dialRetry(client, b.pk, 7), Buffer.from('one'))).toString(), 'one');
  await c.procs[1].kill('SIGKILL'); // the first manager
  assert.equal((await roundTrip(await dialRetry(client, b.pk, 7), Buffer.from('two'))).toString(), 'two');
});

test('removing a transport under a live stream moves the stream to another path', async (t) => {
  const { c, apps } = testCluster(t);
  const { a, b, m, d } = await diamond(c);
  apps.push(await echoApp(d.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, d.pk, 7);
  assert.equal(await echoOf(sock, 'before'), 'before');
  const middle = ((await status(b.apiFile)).rules as unknown[]).length > 0 ? b : m;
  await run(process.execPath, [CLI, 'node', 'transports', 'rm', middle.pk, '--api-file', a.apiFile]);
  assert.equal(await echoOf(sock, 'after the transport went away'), 'after the transport went away');
});

/**
 * A TCP forwarder standing for a node's announced address (a NAT or port mapping): counts connections and
 * pipes each to `target` once `hold` resolves (default: at once).
 */
async function forwarder(t: { after(fn: () => void): void }) {
  const f = {
    target: 0,
    accepted: 0,
    hold: Promise.resolve() as Promise<unknown>,
    onAccept: () => {},
    port: 0,
  };
  const server = createServer((sock) => {
    f.accepted++;
    f.onAccept();
    sock.on('error', () => {});
    void f.hold.then(() => {
      const up = connect(f.target, '127.0.0.1');
      up.on('error', () => sock.destroy());
      sock.on('close', () => up.destroy());
      up.on('close', () => sock.destroy());
      sock.pipe(up).pipe(sock);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  f.port = (server.address() as AddressInfo).port;
  return f;
}

/** A port free right now on loopback (for a node whose announced address must be known before it starts). */
async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('--announce: peers dial the announced address; --relay-only: a node dials through the messenger instead', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const fwd = await forwarder(t);
  fwd.target = await freePort();
  const a = await c.node([], ['--listen', `127.0.0.1:${fwd.target}`, '--announce', `127.0.0.1:${fwd.port}`]);
  const b = await c.node([a.pk]);
  await waitTransports(b, [a.pk]);
  assert.equal(fwd.accepted, 1, 'b reached a through the announced address');
  assert.equal(((await status(b.apiFile)).transports as Array<{ pk: string; kind: string }>).find((x) => x.pk === a.pk)?.kind, 'direct');

  const r = await c.node([a.pk], ['--relay-only']);
  await waitTransports(r, [a.pk]);
  assert.equal(((await status(r.apiFile)).transports as Array<{ pk: string; kind: string }>).find((x) => x.pk === a.pk)?.kind, 'relayed');
  assert.equal(fwd.accepted, 1, 'the relay-only node did not dial the announced address');
  // The relayed transport carries routes like any other.
  apps.push(await echoApp(a.apiFile));
  const client = await AppClient.connect({ apiFile: r.apiFile, name: 'client' });
  apps.push(client);
  assert.equal((await roundTrip(await dialRetry(client, a.pk, 7, { maxHops: 1 }), Buffer.from('relayed'))).toString(), 'relayed');
});

test('simultaneous dials: both nodes keep the one transport dialed by the smaller public key', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  // Each node announces a forwarder; the forwarders hold every connection until both have one, so the two
  // dials are certainly in flight at the same time.
  const [fa, fb] = [await forwarder(t), await forwarder(t)];
  let release: () => void = () => {};
  const bothIn = new Promise<void>((r) => (release = r));
  for (const f of [fa, fb]) {
    f.hold = bothIn;
    f.onAccept = () => fa.accepted && fb.accepted && release();
    f.target = await freePort();
  }
  const a = await c.node([], ['--listen', `127.0.0.1:${fa.target}`, '--announce', `127.0.0.1:${fa.port}`]);
  const b = await c.node([], ['--listen', `127.0.0.1:${fb.target}`, '--announce', `127.0.0.1:${fb.port}`]);
  const add = (from: { apiFile: string }, to: string) => run(process.execPath, [CLI, 'node', 'transports', 'add', to, '--api-file', from.apiFile]);
  await Promise.all([add(a, b.pk), add(b, a.pk)]);
  assert.equal(fa.accepted + fb.accepted, 2, 'both nodes dialed');
  // Both channels finish their handshakes in either order, so one side may briefly hold the other channel:
  // wait for the settled state, one transport each, the same channel seen from both ends.
  const aSmaller = a.pk < b.pk;
  await waitFor('one transport each way, the same channel', async () => {
    const [sa, sb] = await Promise.all([status(a.apiFile), status(b.apiFile)]);
    const [ta, tb] = [sa.transports, sb.transports] as unknown as Array<Array<{ initiator: boolean }>>;
    return ta.length === 1 && tb.length === 1 && ta[0].initiator !== tb[0].initiator;
  });
  const [ta] = (await status(a.apiFile)).transports as Array<{ pk: string; initiator: boolean }>;
  const [tb] = (await status(b.apiFile)).transports as Array<{ pk: string; initiator: boolean }>;
  assert.equal(ta.initiator, aSmaller, 'a keeps the channel the smaller key dialed');
  assert.equal(tb.initiator, !aSmaller, 'b keeps the same channel');
  // That one channel works: a route over it.
  apps.push(await echoApp(b.apiFile));
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  assert.equal((await roundTrip(await dialRetry(client, b.pk, 7), Buffer.from('one channel'))).toString(), 'one channel');
});
