// The NAT tests' world: a lab internet with the core (messenger and node manager) on a public host S, nodes
// started with the real CLI on hosts of the lab, and their status read back with `skywire node status`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, type Host, type LabProcess } from '../netns/lab.js';
import { Internet } from '../netns/internet.js';

export const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
export const ENV = { SIGNAL_CLIENT: '' };

export interface Machine {
  host: Host;
  dir: string;
}

export interface Core {
  messenger: string;
  manager: string;
  /** The manager's dashboard URL (with its token), on S's loopback. */
  dashboard: string;
  s: Machine & { ip: string };
}

export interface StartedNode {
  pk: string;
  proc: LabProcess;
  apiFile: string;
}

async function startCore(net: Internet, dirs: string[]): Promise<Core> {
  const { host, ip } = await net.publicHost('S');
  const dir = mkdtempSync(join(tmpdir(), 'skywire-nat-S-'));
  dirs.push(dir);
  const m = host.spawn(process.execPath, [CLI, 'messenger', '--listen', '0.0.0.0:7110', '--key', join(dir, 'messenger.json'), '--json'], { env: ENV });
  const messenger = JSON.parse((await m.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]).address as string;
  const mgr = host.spawn(
    process.execPath,
    [CLI, 'node-manager', '--key', join(dir, 'manager.json'), '--messenger', messenger, '--listen', '0.0.0.0:7111', '--web', '127.0.0.1:0', '--json'],
    { env: ENV },
  );
  const ready = JSON.parse((await mgr.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]) as { pk: string; dashboard: string };
  return { messenger, manager: ready.pk, dashboard: ready.dashboard, s: { host, dir, ip } };
}

export async function startNode(m: Machine, core: Core, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<StartedNode> {
  const key = join(m.dir, 'node.json');
  const proc = m.host.spawn(
    process.execPath,
    [CLI, 'node', '--key', key, '--messenger', core.messenger, '--manager', core.manager, '--listen', '0.0.0.0:7120', '--json', ...extra],
    { env: { ...ENV, ...env } },
  );
  const info = JSON.parse((await proc.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]) as { pk: string; apiFile: string };
  return { pk: info.pk, proc, apiFile: info.apiFile };
}

export async function transports(m: Machine, apiFile: string): Promise<Array<{ pk: string; kind: string }>> {
  const r = await m.host.exec(process.execPath, [CLI, 'node', 'status', '--json', '--api-file', apiFile]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { transports: Array<{ pk: string; kind: string }> }).transports;
}

/**
 * Polls a node's status (another process's state: no event reaches the test) until its transport to `pk` is
 * up and, if `kind` is given, of that kind.
 */
export async function transportTo(m: Machine, apiFile: string, pk: string, kind?: string, timeoutMs = 15_000): Promise<{ pk: string; kind: string }> {
  const end = Date.now() + timeoutMs;
  let last: { pk: string; kind: string } | undefined;
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    last = (await transports(m, apiFile)).find((x) => x.pk === pk);
    if (last && (!kind || last.kind === kind)) return last;
    if (Date.now() > end) throw new Error(`no ${kind ?? ''} transport to ${pk} within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export async function ping(m: Machine, apiFile: string, pk: string): Promise<void> {
  const r = await m.host.exec(process.execPath, [CLI, 'ping', pk, '--api-file', apiFile, '-c', '2', '-i', '100'], 20_000);
  assert.equal(r.code, 0, `ping failed: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, / 0% loss/);
}

export function machine(host: Host, dirs: string[]): Machine {
  const dir = mkdtempSync(join(tmpdir(), `skywire-nat-${host.name}-`));
  dirs.push(dir);
  return { host, dir };
}

/** The lab, the internet in it and the core (messenger, node manager) on S; all removed after the test. */
export async function startWorld(t: { after(fn: () => Promise<void>): void }): Promise<{ lab: Lab; net: Internet; core: Core; dirs: string[] }> {
  const lab = await Lab.create();
  const dirs: string[] = [];
  t.after(async () => {
    await lab.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const net = await Internet.create(lab);
  const core = await startCore(net, dirs);
  return { lab, net, core, dirs };
}

/** Polls the manager dashboard's snapshot (what the page draws) until node `pk` shows its transport to `peer` as `kind`. */
export async function dashboardKind(core: Core, pk: string, peer: string, kind: string, timeoutMs = 10_000): Promise<void> {
  const url = new URL(core.dashboard);
  const api = `${url.origin}/api/snapshot?token=${url.searchParams.get('token')}`;
  const end = Date.now() + timeoutMs;
  let seen: unknown;
  for (let delay = 100; ; delay = Math.min(1000, delay * 2)) {
    const r = await core.s.host.exec('curl', ['-sf', api]);
    if (r.code === 0) {
      const nodes = (JSON.parse(r.stdout) as { snapshot: { nodes: Array<{ pk: string; transports: Array<{ peer: string; kind?: string }> }> } }).snapshot.nodes;
      seen = nodes.find((n) => n.pk === pk)?.transports.find((t) => t.peer === peer)?.kind;
      if (seen === kind) return;
    }
    if (Date.now() > end) throw new Error(`the dashboard does not show ${pk}'s transport to ${peer} as ${kind} within ${timeoutMs} ms (shows ${String(seen)})`);
    await new Promise((res) => setTimeout(res, delay));
  }
}
