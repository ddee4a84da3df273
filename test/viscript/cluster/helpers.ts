// Shared by the cluster tests: a real `skywire messenger`, key files, hub and agent configs, and real
// `viscript --headless --json` processes (optionally inside a netns lab host), driven through stdin.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateKeyFile } from '../../../src/net/keys.js';
import type { Host, LabProcess } from '../../netns/lab.js';
import { VISCRIPT_CLI, ViscriptProcess, type Msg } from '../helpers.js';

export const SKYWIRE_CLI = fileURLToPath(new URL('../../../src/cli/skywire.js', import.meta.url));
export const TICKER = fileURLToPath(new URL('../../../../examples/apps/ticker.mjs', import.meta.url));

export function dir(t: { after(fn: () => void): void }, label = 'cluster'): string {
  const d = mkdtempSync(join(tmpdir(), `viscript-${label}-`));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A key file in `d`; returns its path and public key. */
export function key(d: string, name: string): { file: string; pk: string } {
  const file = join(d, `${name}.key.json`);
  return { file, pk: loadOrCreateKeyFile(file).publicKey.toString('hex') };
}

/** Starts `skywire messenger` (in `host`, or here) and resolves with its PK@HOST:PORT address. */
export async function startMessenger(
  d: string,
  o: { host?: Host; listen?: string; onProcess?: (stop: () => void) => void } = {},
): Promise<string> {
  const args = [SKYWIRE_CLI, 'messenger', '--listen', o.listen ?? '127.0.0.1:0', '--key', join(d, 'messenger.json'), '--json'];
  if (o.host) {
    const p: LabProcess = o.host.spawn(process.execPath, args, { env: { SIGNAL_CLIENT: '' } });
    const line = (await p.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0];
    return (JSON.parse(line) as { address: string }).address;
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIGNAL_CLIENT: '' } });
  o.onProcess?.(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^\{.*\}$/m.exec(out);
      if (m) resolve((JSON.parse(m[0]) as { address: string }).address);
    });
    child.once('exit', (code) => reject(new Error(`messenger exited (${code})`)));
  });
}

export interface NodeSpec {
  keyFile: string;
  messenger: string;
  hubs?: string[];
  machines?: Record<string, string>;
  acceptDeploy?: boolean;
  /** Extra YAML for apps. */
  apps?: string;
}

export function writeClusterConfig(d: string, s: NodeSpec, file = 'config.yaml'): string {
  const lines = ['cluster:', `  key: ${s.keyFile}`, `  messengers: ["${s.messenger}"]`];
  if (s.hubs) lines.push(`  hubs: [${s.hubs.map((h) => `"${h}"`).join(', ')}]`);
  if (s.machines) {
    lines.push('  machines:');
    for (const [n, pk] of Object.entries(s.machines)) lines.push(`    ${n}: "${pk}"`);
  }
  if (s.acceptDeploy !== undefined) lines.push(`  acceptDeploy: ${s.acceptDeploy}`);
  lines.push(
    'apps:',
    s.apps ??
      [
        '  ticker:',
        `    path: ${TICKER}`,
        '    desc: prints a line per tick and echoes its stdin',
        '    default_args: ["300"]',
      ].join('\n'),
  );
  const path = join(d, file);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** `viscript --headless --json --config <config>`, in `host` when given; killed (its group) at the test's end. */
export function startNode(
  t: { after(fn: () => void | Promise<void>): void },
  config: string,
  o: { host?: Host; stateDir?: string; env?: NodeJS.ProcessEnv } = {},
): ViscriptProcess {
  const args = [VISCRIPT_CLI, '--headless', '--json', '--signal-address', '127.0.0.1:0', '--config', config, ...(o.stateDir ? ['--state-dir', o.stateDir] : [])];
  const [cmd, argv] = o.host ? ['ip', ['netns', 'exec', o.host.ns, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, LOG_LEVEL: 'info', ...o.env },
  });
  const v = new ViscriptProcess(child);
  t.after(async () => {
    v.kill();
    await v.exited;
  });
  return v;
}

/** Runs a line on a headless Viscript until `pred` holds for its result, within `ms`. */
export async function until(v: ViscriptProcess, line: string, pred: (m: Msg) => boolean, ms = 10_000): Promise<Msg> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await v.run(line);
    if (pred(r)) return r;
    if (Date.now() > end) throw new Error(`"${line}" did not give the expected result within ${ms} ms; last: ${JSON.stringify(r).slice(0, 2000)}`);
    await new Promise((res) => setTimeout(res, 100)); // polling a condition that has no event (a bounded deadline)
  }
}

export type MachineRow = { name: string; state: string; status?: { appsRunning: number; appsConfigured: number }; problem?: string };
export const machinesOf = (m: Msg): MachineRow[] => m.data as MachineRow[];
export const stateOf = (m: Msg, name: string): string | undefined => machinesOf(m).find((r) => r.name === name)?.state;
