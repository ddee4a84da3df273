// Network changes made through `ip`, `nft`/`iptables` and /proc/sys, with a journal on disk: each change
// is recorded BEFORE it is made, so whatever happens (exit, signal, crash) the next start or the exit
// path can undo exactly what this app added, and nothing else.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../util/log.js';
import { routeReplacedBy } from './routes.js';

export type Change =
  | { kind: 'link'; dev: string }
  /** `previous`: the route with the same destination and metric that ours replaced, put back on undo. */
  | { kind: 'route'; spec: string[]; previous?: string[] }
  | { kind: 'nft_table'; name: string }
  | { kind: 'iptables'; table: string; chain: string; rule: string[] }
  | { kind: 'sysctl'; path: string; value: string };

interface StateFile {
  app: string;
  pid: number;
  startedAt: string;
  changes: Change[];
}

/** Runs a command without a shell; rejects with "cmd args: stderr" on failure. */
export function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || '').trim().split('\n')[0] || (err as NodeJS.ErrnoException).code || err.message;
        reject(new Error(`${cmd} ${args.join(' ')}: ${why}`));
      } else resolve(stdout);
    });
  });
}

export async function commandWorks(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args, 5000);
    return true;
  } catch {
    return false;
  }
}

export function defaultStateDir(): string {
  return process.env.SKYWIRE_VPN_STATE_DIR ?? '/run/skywire-vpn';
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    // A recycled pid would not be running our app: check the command line too.
    return /vpn/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

export class NetJournal {
  private changes: Change[] = [];
  private finished = false;
  private readonly file: string;

  constructor(
    stateDir: string,
    private readonly app: string,
    dev: string,
    private readonly log: Logger,
  ) {
    this.file = join(stateDir, `${app}-${dev}.json`);
  }

  get path(): string {
    return this.file;
  }

  /**
   * Undoes what a previous run recorded and did not clean up (it crashed or was killed with SIGKILL).
   * Refuses when that run is still alive. Returns how many changes were undone.
   */
  async recover(): Promise<number> {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      return 0;
    }
    const problem = stateFileProblem(raw);
    if (problem) throw new Error(`state file ${this.file} is not one this app wrote (${problem}): check it and remove it`);
    const state = raw as StateFile;
    if (pidAlive(state.pid)) {
      throw new Error(`another ${this.app} (pid ${state.pid}) is running with state file ${this.file}; stop it first`);
    }
    this.log.warn('undoing network changes left by a previous run that did not exit cleanly', {
      pid: state.pid,
      changes: state.changes.length,
    });
    this.changes = state.changes ?? [];
    return this.undoAll();
  }

  /** Records `change`, then makes it with `apply`. If `apply` fails the record is dropped again. */
  async make(change: Change, apply: () => Promise<unknown>): Promise<void> {
    if (this.finished) throw new Error(`${this.app} is stopping`);
    this.changes.push(change);
    this.save();
    try {
      await apply();
    } catch (err) {
      this.changes.pop();
      this.save();
      throw err;
    }
  }

  /** The final undo on exit: afterwards no new change can be made (a setup still running is cut short). */
  async finish(): Promise<number> {
    this.finished = true;
    return this.undoAll();
  }

  /** Undoes every recorded change, newest first; a change already gone is not an error. */
  async undoAll(): Promise<number> {
    let n = 0;
    while (this.changes.length) {
      const c = this.changes[this.changes.length - 1];
      try {
        await undo(c);
        n++;
      } catch (err) {
        this.log.debug('undo found nothing to remove', { change: c, err: err as Error });
      }
      this.changes.pop();
      this.save();
    }
    rmSync(this.file, { force: true });
    return n;
  }

  private save(): void {
    if (!this.changes.length) {
      rmSync(this.file, { force: true });
      return;
    }
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const state: StateFile = { app: this.app, pid: process.pid, startedAt: new Date().toISOString(), changes: this.changes };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Why `raw` is not a state file as save() writes it (its changes are run as commands on undo), or undefined. */
function stateFileProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
  const s = raw as Record<string, unknown>;
  if (!Number.isInteger(s.pid)) return '"pid" must be a whole number';
  if (!Array.isArray(s.changes)) return '"changes" must be an array';
  for (const [i, c] of s.changes.entries()) {
    const ok =
      typeof c === 'object' && c !== null &&
      ((c.kind === 'link' && typeof c.dev === 'string') ||
        (c.kind === 'route' && isStrings(c.spec) && (c.previous === undefined || isStrings(c.previous))) ||
        (c.kind === 'nft_table' && typeof c.name === 'string') ||
        (c.kind === 'iptables' && typeof c.table === 'string' && typeof c.chain === 'string' && isStrings(c.rule)) ||
        (c.kind === 'sysctl' && typeof c.path === 'string' && c.path.startsWith('/proc/sys/') && typeof c.value === 'string'));
    if (!ok) return `changes[${i}] is not a link, route, nft_table, iptables or sysctl change`;
  }
  return undefined;
}

async function undo(c: Change): Promise<void> {
  switch (c.kind) {
    case 'link':
      await run('ip', ['link', 'del', 'dev', c.dev]);
      return;
    case 'route':
      if (c.previous) await run('ip', ['route', 'replace', ...c.previous]);
      else await run('ip', ['route', 'del', ...c.spec]);
      return;
    case 'nft_table':
      await run('nft', ['delete', 'table', 'ip', c.name]);
      return;
    case 'iptables':
      await run('iptables', ['-w', '5', '-t', c.table, '-D', c.chain, ...c.rule]);
      return;
    case 'sysctl':
      writeFileSync(c.path, c.value);
      return;
  }
}

export function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Sets a /proc/sys value through the journal, recording the old value (only when it changes). */
export async function setSysctl(j: NetJournal, path: string, value: string): Promise<void> {
  const old = readSysctl(path);
  if (old === undefined) throw new Error(`cannot read ${path}`);
  if (old === value) return;
  await j.make({ kind: 'sysctl', path, value: old }, async () => {
    try {
      writeFileSync(path, value);
    } catch (err) {
      throw new Error(`cannot set ${path} to ${value} (${(err as NodeJS.ErrnoException).code}): run as root, or set it beforehand`, { cause: err });
    }
  });
}

/** Best effort: a TUN device has no use for IPv6 here, and its router solicitations are noise. */
export function disableIpv6(dev: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '1');
  } catch {
    // IPv6 disabled or absent on this host: nothing to do.
  }
}

/** Brings up `dev` with `address/prefixLen` and `mtu`; the link is journaled so a crash leaves nothing. */
/** `gsoMaxSize`: cap the kernel's GSO packets on an offload device (gso.ts, GSO_MAX_SIZE). */
/**
 * Packets the kernel queues in front of the TUN device while the VPN is busy elsewhere (Linux's default is 500).
 * A burst arriving while the process's one thread encrypts for the route (above all with the VPN inside the
 * node, which also does the route's work) overflowed 500 and the kernel dropped packets: 800-5,000 TCP
 * retransmits per 6 s download inside the tunnel, none with 2000 (docs/vpn.md, "Inside the node").
 * `SKYWIRE_VPN_CONGESTION=drop` keeps the old queue (the bench's "before").
 */
export const TUN_TX_QUEUE = process.env.SKYWIRE_VPN_CONGESTION === 'drop' ? 500 : 2000;

export async function configureLink(j: NetJournal, dev: string, cidrAddr: string, mtu: number, gsoMaxSize?: number): Promise<void> {
  await j.make({ kind: 'link', dev }, async () => {
    disableIpv6(dev);
    await run('ip', ['addr', 'replace', cidrAddr, 'dev', dev]);
    const gso = gsoMaxSize ? ['gso_max_size', String(gsoMaxSize)] : [];
    await run('ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), ...gso, 'txqueuelen', String(TUN_TX_QUEUE), 'up']);
  });
}

/**
 * Adds (`ip route replace`) the route `spec` (destination first, no metric). A route the host already had
 * for that destination and metric is replaced by ours, so the journal records it and undo puts it back.
 */
export async function addRoute(j: NetJournal, spec: string[]): Promise<void> {
  const previous = await routeReplacedBy(spec[0]);
  await j.make({ kind: 'route', spec, ...(previous ? { previous } : {}) }, () => run('ip', ['route', 'replace', ...spec]));
}

export type Firewall = 'nft' | 'iptables';

export async function detectFirewall(wanted: 'auto' | Firewall): Promise<Firewall> {
  if (wanted !== 'iptables' && (await commandWorks('nft', ['list', 'tables']))) return 'nft';
  if (wanted !== 'nft' && (await commandWorks('iptables', ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING']))) return 'iptables';
  throw new Error(
    wanted === 'auto'
      ? 'neither nft nor iptables works here: install nftables (apt-get install nftables) or iptables'
      : `${wanted} does not work here: install it, or use --firewall auto`,
  );
}

/**
 * Source NAT for the clients' subnet leaving through any interface but the tunnel, plus (with iptables,
 * where a FORWARD policy of DROP is common) rules letting the tunnel's traffic through.
 */
export async function addNat(j: NetJournal, fw: Firewall, dev: string, subnet: string): Promise<void> {
  if (fw === 'nft') {
    const table = `skywire_vpn_${dev.replace(/[^A-Za-z0-9_]/g, '_')}`;
    await j.make({ kind: 'nft_table', name: table }, async () => {
      await run('nft', ['add', 'table', 'ip', table]);
      await run('nft', ['add', 'chain', 'ip', table, 'postrouting', '{ type nat hook postrouting priority 100; policy accept; }']);
      await run('nft', ['add', 'rule', 'ip', table, 'postrouting', 'ip', 'saddr', subnet, 'oifname', '!=', dev, 'masquerade']);
    });
    return;
  }
  const tag = ['-m', 'comment', '--comment', `skywire-vpn:${dev}`];
  const rules: Array<{ table: string; chain: string; rule: string[]; insert: boolean }> = [
    { table: 'nat', chain: 'POSTROUTING', rule: ['-s', subnet, '!', '-o', dev, ...tag, '-j', 'MASQUERADE'], insert: false },
    { table: 'filter', chain: 'FORWARD', rule: ['-i', dev, '-s', subnet, ...tag, '-j', 'ACCEPT'], insert: true },
    {
      table: 'filter',
      chain: 'FORWARD',
      rule: ['-o', dev, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'],
      insert: true,
    },
  ];
  for (const r of rules) {
    await j.make({ kind: 'iptables', table: r.table, chain: r.chain, rule: r.rule }, () =>
      run('iptables', ['-w', '5', '-t', r.table, r.insert ? '-I' : '-A', r.chain, ...r.rule]),
    );
  }
}

/** `ip route get` for `dst`: the gateway and device the host uses now (to keep a path outside the tunnel). */
export async function currentRoute(dst: string): Promise<{ via?: string; dev: string } | undefined> {
  try {
    const out = await run('ip', ['-4', 'route', 'get', dst]);
    const dev = /\bdev (\S+)/.exec(out)?.[1];
    if (!dev) return undefined;
    return { via: /\bvia (\S+)/.exec(out)?.[1], dev };
  } catch {
    return undefined;
  }
}
