// The lab's NAT routers (internet.ts) behave as the reachability work assumes: Linux masquerade keeps a
// connection's source port, so two hosts behind two such routers that drop unsolicited packets get a TCP
// connection by simultaneous open from known ports (what hole punching will build on); `masquerade random`
// maps each connection to a new port, so the same fails there; a forwarded port reaches the host behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Lab, labSkipReason } from './lab.js';
import { Internet } from './internet.js';

const PROBE = fileURLToPath(new URL('./simopen-probe.js', import.meta.url));
const skip = await labSkipReason({ tools: ['nft'] });

async function simultaneousOpen(randomPorts: boolean, deadlineMs: number): Promise<{ a: string; b: string; codes: Array<number | null> }> {
  const lab = await Lab.create();
  try {
    const net = await Internet.create(lab);
    const h1 = await net.home('H1', { silent: true });
    const h2 = await net.home('H2', { silent: true, randomPorts });
    const a = h1.host.spawn(process.execPath, [PROBE, '40001', h2.publicIp, '40002', 'A', String(deadlineMs)]);
    const b = h2.host.spawn(process.execPath, [PROBE, '40002', h1.publicIp, '40001', 'B', String(deadlineMs)]);
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    return { a: a.stdout, b: b.stdout, codes: [ra.code, rb.code] };
  } finally {
    await lab.cleanup();
  }
}

test('two hosts behind masquerading routers connect by TCP simultaneous open from known ports', { skip, timeout: 30_000 }, async () => {
  const r = await simultaneousOpen(false, 8000);
  assert.deepEqual(r.codes, [0, 0], `${r.a}\n${r.b}`);
  // Each side sees the other's router's public address with the port the other dialed from: the port was kept.
  assert.match(r.a, /-> 203\.0\.113\.\d+:40002, got B/);
  assert.match(r.b, /-> 203\.0\.113\.\d+:40001, got A/);
});

test('behind a router with masquerade random the same simultaneous open fails', { skip, timeout: 30_000 }, async () => {
  // (3 s: the kernel's first SYN and its retransmission from each side; success above takes well under that)
  const r = await simultaneousOpen(true, 3000);
  assert.deepEqual(r.codes, [1, 1], `${r.a}\n${r.b}`);
});

test('a forwarded port on a home router reaches the host behind it; an unforwarded one does not', { skip, timeout: 30_000 }, async (t) => {
  const lab = await Lab.create();
  t.after(() => lab.cleanup());
  const net = await Internet.create(lab);
  const home = await net.home('H', { forward: [8080] });
  const out = await net.publicHost('P');
  const server = (port: number) =>
    home.host.spawn(process.execPath, ['-e', `require('net').createServer((s) => s.end('hi from ${port}')).listen(${port}, () => console.log('ready'))`]);
  await server(8080).waitFor(/ready/);
  await server(8081).waitFor(/ready/);
  const get = (port: number) =>
    out.host.exec(process.execPath, ['-e', `const s = require('net').connect(${port}, '${home.publicIp}'); s.on('data', (d) => process.stdout.write(d)); s.on('error', (e) => { console.error(e.code); process.exit(1); })`]);
  const ok = await get(8080);
  assert.equal(ok.stdout, 'hi from 8080', ok.stderr);
  const refused = await get(8081);
  assert.notEqual(refused.code, 0);
});
