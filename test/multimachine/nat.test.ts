// Nodes behind home routers (nftables masquerade) in the netns lab: the messenger tells each node the address
// it saw, so a node whose router forwards its port is reached directly without --announce; without a forward,
// or behind a port-randomising router, the link is relayed by the messenger, says why, and carries routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, labSkipReason, type Host, type LabProcess } from '../netns/lab.js';
import { Internet } from '../netns/internet.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const skip = await labSkipReason({ tools: ['nft'] });
const ENV = { SIGNAL_CLIENT: '' };

interface Machine {
  host: Host;
  dir: string;
}

async function startCore(lab: Lab, net: Internet, dirs: string[]): Promise<{ messenger: string; manager: string; s: Machine & { ip: string } }> {
  const { host, ip } = await net.publicHost('S');
  const dir = mkdtempSync(join(tmpdir(), 'skywire-nat-S-'));
  dirs.push(dir);
  const m = host.spawn(process.execPath, [CLI, 'messenger', '--listen', '0.0.0.0:7110', '--key', join(dir, 'messenger.json'), '--json'], { env: ENV });
  const messenger = JSON.parse((await m.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]).address as string;
  const mgr = host.spawn(
    process.execPath,
    [CLI, 'node-manager', '--key', join(dir, 'manager.json'), '--messenger', messenger, '--listen', '0.0.0.0:7111', '--json'],
    { env: ENV },
  );
  const manager = JSON.parse((await mgr.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]).pk as string;
  void lab;
  return { messenger, manager, s: { host, dir, ip } };
}

async function startNode(m: Machine, core: { messenger: string; manager: string }, extra: string[] = []): Promise<{ pk: string; proc: LabProcess; apiFile: string }> {
  const key = join(m.dir, 'node.json');
  const proc = m.host.spawn(
    process.execPath,
    [CLI, 'node', '--key', key, '--messenger', core.messenger, '--manager', core.manager, '--listen', '0.0.0.0:7120', '--json', ...extra],
    { env: ENV },
  );
  const info = JSON.parse((await proc.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]) as { pk: string; apiFile: string };
  return { pk: info.pk, proc, apiFile: info.apiFile };
}

async function transports(m: Machine, apiFile: string): Promise<Array<{ pk: string; kind: string }>> {
  const r = await m.host.exec(process.execPath, [CLI, 'node', 'status', '--json', '--api-file', apiFile]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { transports: Array<{ pk: string; kind: string }> }).transports;
}

/** Polls a node's status (another process's state: no event reaches the test) until a transport to `pk` is up. */
async function transportTo(m: Machine, apiFile: string, pk: string): Promise<{ pk: string; kind: string }> {
  const end = Date.now() + 15_000;
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    const t = (await transports(m, apiFile)).find((x) => x.pk === pk);
    if (t) return t;
    if (Date.now() > end) throw new Error(`no transport to ${pk} within 15 s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function ping(m: Machine, apiFile: string, pk: string): Promise<void> {
  const r = await m.host.exec(process.execPath, [CLI, 'ping', pk, '--api-file', apiFile, '-c', '2', '-i', '100'], 20_000);
  assert.equal(r.code, 0, `ping failed: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, / 0% loss/);
}

function machine(host: Host, dirs: string[]): Machine {
  const dir = mkdtempSync(join(tmpdir(), `skywire-nat-${host.name}-`));
  dirs.push(dir);
  return { host, dir };
}

/** The lab, the internet in it and the core (messenger, node manager) on S; all removed after the test. */
async function startWorld(t: { after(fn: () => Promise<void>): void }): Promise<{ net: Internet; core: Awaited<ReturnType<typeof startCore>>; dirs: string[] }> {
  const lab = await Lab.create();
  const dirs: string[] = [];
  t.after(async () => {
    await lab.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const net = await Internet.create(lab);
  const core = await startCore(lab, net, dirs);
  return { net, core, dirs };
}

test('NAT: a node behind a router that forwards its port is reached directly through the address the messenger observed', { skip, timeout: 60_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const home = await net.home('H', { forward: [7120] });
  const pub = await net.publicHost('P');
  const h = machine(home.host, dirs);
  const p = machine(pub.host, dirs);

  const behind = await startNode(h, core); // no --announce
  // What the messenger lists for it: its LAN address, and the router's public address with its listen port.
  const lookup = await s_lookup(core.s, core.messenger, behind.pk);
  assert.ok(lookup.includes(`${home.publicIp}:7120`), `announced ${JSON.stringify(lookup)}`);
  assert.ok(!lookup.some((a) => a.startsWith('0.0.0.0')), 'no wildcard announced');

  const outside = await startNode(p, core, ['--connect', behind.pk]);
  const tr = await transportTo(p, outside.apiFile, behind.pk);
  assert.equal(tr.kind, 'direct');
  await ping(p, outside.apiFile, behind.pk);
});

test('NAT: without a forward (masquerade, and masquerade random) the link is relayed, says why, and carries a route', { skip, timeout: 60_000 }, async (t) => {
  const { net, core, dirs } = await startWorld(t);
  const one = machine((await net.home('H1')).host, dirs);
  const two = machine((await net.home('H2', { randomPorts: true })).host, dirs);
  const a = await startNode(one, core);
  const b = await startNode(two, core, ['--connect', a.pk]);
  const tr = await transportTo(two, b.apiFile, a.pk);
  assert.equal(tr.kind, 'relayed');
  await b.proc.waitFor(/transport relayed by the messenger.*no announced address answered/, 5000, 'stderr');
  await ping(two, b.apiFile, a.pk);
});

/** The addresses the messenger lists for `pk`, looked up by a throwaway client on machine S. */
async function s_lookup(s: Machine, messenger: string, pk: string): Promise<string[]> {
  const script = [
    "const { MessengerClient, parseMessengerAddress } = await import(process.argv[1]);",
    "const { generateKeyPair } = await import(process.argv[2]);",
    "const c = new MessengerClient({ localKey: generateKeyPair(), messengers: [parseMessengerAddress(process.argv[3])] });",
    'await c.start();',
    'const e = await c.lookup(process.argv[4]);',
    'console.log(JSON.stringify(e ? e.addresses : null));',
    'await c.close();',
  ].join('\n');
  const mod = fileURLToPath(new URL('../../src/messenger/index.js', import.meta.url));
  const keys = fileURLToPath(new URL('../../src/net/keys.js', import.meta.url));
  const r = await s.host.exec(process.execPath, ['--input-type=module', '-e', script, mod, keys, messenger, pk]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}
