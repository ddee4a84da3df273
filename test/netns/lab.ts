// A tiny network lab for tests and benchmarks: hosts are Linux network namespaces, links are veth pairs
// (optionally with tc netem delay/loss), processes run inside hosts with `ip netns exec`.
// Every namespace of a run carries a unique prefix ("swt-<pid>-<n>-"), so cleanup removes only its own,
// and each new lab first sweeps namespaces left by runs whose process is gone (a crashed test run).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BASE = 'swt-';
let counter = 0;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why lab tests cannot run here, or undefined when they can. */
export async function labSkipReason(o: { tun?: boolean; tools?: string[] } = {}): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if ((await exec('ip', ['netns', 'list'])).code !== 0) return '`ip netns` is not available (install iproute2)';
  if (o.tun && !existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  for (const tool of o.tools ?? []) {
    if ((await exec('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function removeNamespace(ns: string): Promise<void> {
  const pids = (await exec('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await exec('ip', ['netns', 'del', ns]);
}

/** Deletes namespaces left by lab runs whose process no longer exists. */
export async function sweepStale(): Promise<string[]> {
  const names = (await exec('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(BASE));
  const stale = names.filter((n) => {
    const pid = Number(/^swt-(\d+)-/.exec(n)?.[1]);
    return !pid || !pidAlive(pid);
  });
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}

export interface Netem {
  delayMs?: number;
  lossPct?: number;
  rateMbit?: number;
}

export class LabProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners: Array<() => void> = [];

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.notify();
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private notify(): void {
    for (const l of this.listeners.slice()) l();
  }

  /** Resolves with the match once `re` matches the output (stdout or stderr); rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs = 20_000, stream: 'stdout' | 'stderr' | 'both' = 'both'): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const text = () => (stream === 'stdout' ? this.stdout : stream === 'stderr' ? this.stderr : this.stdout + '\n' + this.stderr);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        fn();
      };
      const check = () => {
        const m = re.exec(text());
        if (m) done(() => resolve(m));
        else if (!this.running) done(() => reject(new Error(`${this.label} exited before printing ${re}:\n${this.stdout}\n${this.stderr}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.label}: no ${re} within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`))),
        timeoutMs,
      );
      this.listeners.push(check);
      check();
    });
  }

  /** Sends `signal` to the process group and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.kill(signal);
      const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
      const r = await this.exited;
      clearTimeout(timer);
      return r;
    }
    return this.exited;
  }

  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // already gone
    }
  }
}

export class Host {
  constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly ns: string,
  ) {}

  exec(cmd: string, args: string[], timeoutMs?: number): Promise<ExecResult> {
    return exec('ip', ['netns', 'exec', this.ns, cmd, ...args], timeoutMs);
  }

  /** Like exec, but throws when the command fails. */
  async run(cmd: string, args: string[]): Promise<string> {
    return must('ip', ['netns', 'exec', this.ns, cmd, ...args]);
  }

  /** Starts a long-running process in this host, in its own process group; the lab kills it at cleanup. */
  spawn(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; label?: string } = {}): LabProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const p = new LabProcess(child, o.label ?? `${this.name}: ${cmd}`);
    this.lab.track(p);
    return p;
  }
}

export class Lab {
  readonly prefix: string;
  private readonly hosts: Host[] = [];
  private readonly procs: LabProcess[] = [];
  private netemWorks: boolean | undefined;
  private links = 0;

  private constructor() {
    this.prefix = `${BASE}${process.pid}-${counter++}-`;
  }

  static async create(): Promise<Lab> {
    await sweepStale();
    return new Lab();
  }

  async host(name: string): Promise<Host> {
    const ns = this.prefix + name;
    await must('ip', ['netns', 'add', ns]);
    const h = new Host(this, name, ns);
    this.hosts.push(h);
    await h.run('ip', ['link', 'set', 'lo', 'up']);
    return h;
  }

  /**
   * Connects two hosts with a link named "v-<peer>" on each side, addresses given as CIDR ("10.0.0.1/24").
   * `netem` (delay, loss) shapes the egress of `netemOn` (default: both sides) with tc netem where the kernel
   * has it; otherwise the link is made of two TUN devices joined by a relay process that delays and drops
   * packets in user space (impair-relay.ts), with the same delay and loss on each side.
   */
  async link(a: Host, b: Host, o: { a: string; b: string; netem?: Netem; netemOn?: 'a' | 'b' | 'both' }): Promise<{ aDev: string; bDev: string }> {
    const aDev = `v-${b.name}`.slice(0, 15);
    const bDev = `v-${a.name}`.slice(0, 15);
    const on = o.netemOn ?? 'both';
    if (o.netem && !(await this.hasNetem(a))) {
      await this.relayLink(a, aDev, b, bDev, o.netem, on);
    } else {
      await must('ip', ['link', 'add', aDev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.ns]);
      if (o.netem) {
        if (on !== 'b') await this.netem(a, aDev, o.netem);
        if (on !== 'a') await this.netem(b, bDev, o.netem);
      }
    }
    for (const [h, dev, addr] of [[a, aDev, o.a], [b, bDev, o.b]] as const) {
      await h.run('ip', ['addr', 'add', addr, 'dev', dev]);
      await h.run('ip', ['link', 'set', dev, 'up']);
    }
    return { aDev, bDev };
  }

  /** Whether this kernel has the netem qdisc (many minimal VM kernels do not). */
  async hasNetem(h: Host): Promise<boolean> {
    if (this.netemWorks === undefined) {
      this.netemWorks = (await h.exec('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'])).code === 0;
      if (this.netemWorks) await h.exec('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
    }
    return this.netemWorks;
  }

  private async relayLink(a: Host, aDev: string, b: Host, bDev: string, n: Netem, on: 'a' | 'b' | 'both'): Promise<void> {
    // Relay-side names are unique in the root namespace; the devices are renamed once inside their host.
    const tag = `${process.pid % 100000}${this.links++}`;
    const [tmpA, tmpB] = [`swa${tag}`, `swb${tag}`];
    const delay = n.delayMs ?? 0;
    const loss = n.lossPct ?? 0;
    const script = fileURLToPath(new URL('./impair-relay.js', import.meta.url));
    const child = spawn(process.execPath, [script, tmpA, tmpB, String(delay), String(loss), on], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = new LabProcess(child, 'impair-relay');
    this.track(relay);
    await relay.waitFor(/^ready/m, 10_000);
    for (const [h, tmp, dev] of [[a, tmpA, aDev], [b, tmpB, bDev]] as const) {
      await must('ip', ['link', 'set', 'dev', tmp, 'netns', h.ns]);
      await h.run('ip', ['link', 'set', 'dev', tmp, 'name', dev]);
      await h.exec('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    }
  }

  async netem(h: Host, dev: string, n: Netem): Promise<void> {
    const args = ['qdisc', 'replace', 'dev', dev, 'root', 'netem'];
    if (n.delayMs) args.push('delay', `${n.delayMs}ms`);
    if (n.lossPct) args.push('loss', `${n.lossPct}%`);
    if (n.rateMbit) args.push('rate', `${n.rateMbit}mbit`);
    await h.run('tc', args);
  }

  track(p: LabProcess): void {
    this.procs.push(p);
  }

  /** Stops every process started in the lab, then deletes its namespaces (and with them the links). */
  async cleanup(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL', 2000)));
    for (const h of this.hosts) await removeNamespace(h.ns);
    this.hosts.length = 0;
  }

  /** Namespaces of this lab that still exist (for asserting cleanup). */
  async remaining(): Promise<string[]> {
    const out = (await exec('ip', ['netns', 'list'])).stdout;
    return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(this.prefix));
  }
}
