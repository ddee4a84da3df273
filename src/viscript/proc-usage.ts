// CPU % and resident memory of a process tree, read straight from /proc: no process spawned. `la` used to run
// `ps` (pidtree) per app, 15-95 ms each under load, and 50 agents doing so at once on shared cores made
// `la @all` take most of a second (docs/cluster.md). Reading a few small /proc files takes well under 1 ms.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pidtree from 'pidtree';
import pidusage from 'pidusage';

/** Linux's USER_HZ: the unit of utime/stime/starttime in /proc/<pid>/stat, 100 on every mainstream architecture. */
const CLK_TCK = 100;
/**
 * A window shorter than this gives a jumpy CPU % (CPU time counts in 10 ms ticks): within it a pid answers its
 * previous figure, and the window keeps growing from the older sample.
 */
const MIN_WINDOW_S = 1;
/** Per-pid history unused this long is dropped, so memory stays bounded by the processes still looked at. */
const HISTORY_MAX_AGE_MS = 60_000;

export interface TreeUsage {
  /** Sum over the processes of their CPU % (100 = one core) since the previous sample of each, or since it started. */
  cpu: number;
  /** Sum of their resident set sizes, bytes. */
  rss: number;
  /** The pids measured, ascending (those that exited between listing and reading are left out). */
  pids: number[];
}

interface Stat {
  ppid: number;
  /** utime + stime, in seconds. */
  cpuS: number;
  /** Start time after boot, in seconds (tells a reused pid from the process first seen with it). */
  startS: number;
}

interface History {
  cpuS: number;
  startS: number;
  uptimeS: number;
  /** The CPU % last computed for this pid. */
  cpu: number;
  usedAt: number;
}

/** Fields of /proc/<pid>/stat; undefined once the process is gone (or a zombie). comm may hold spaces and ')', so split after the last ')'. */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // A zombie (exited, not yet reaped) runs nothing and holds no memory: it is no longer part of the app.
  if (f[0] === 'Z' || f[0] === 'X') return undefined;
  // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
  const ppid = Number(f[1]);
  const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK;
  const startS = Number(f[19]) / CLK_TCK;
  if (![ppid, cpuS, startS].every(Number.isFinite)) return undefined;
  return { ppid, cpuS, startS };
}

/** VmRSS from /proc/<pid>/status in bytes (in kB there, so no page size to know); undefined once the process is gone. */
function readRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    // A zombie has no VmRSS line: it holds no memory.
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return undefined;
  }
}

function readUptimeS(): number {
  return Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
}

function numbers(text: string): number[] {
  return text.split(/\s+/).filter(Boolean).map(Number).filter(Number.isInteger);
}

/** Whether this kernel has /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN); without it we scan /proc. */
let childrenFiles: boolean | undefined;

function hasChildrenFiles(): boolean {
  if (childrenFiles === undefined) {
    try {
      readFileSync(`/proc/${process.pid}/task/${process.pid}/children`);
      childrenFiles = true;
    } catch {
      childrenFiles = false;
    }
  }
  return childrenFiles;
}

/** Children of `pid`, from every thread's children file: a child belongs to the thread that forked it. */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    try {
      out.push(...numbers(readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1')));
    } catch {
      // The thread (or the process) ended meanwhile.
    }
  }
  return out;
}

/** Every descendant of `root` by scanning each /proc/<pid>/stat for its parent (the slow path, for kernels without children files). */
export function descendantsByScan(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s) kids.set(s.ppid, [...(kids.get(s.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    for (const c of kids.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** `root` and every process under it. */
export function processTree(root: number): number[] {
  if (!hasChildrenFiles()) return [root, ...descendantsByScan(root)];
  const seen = new Set([root]);
  const todo = [root];
  while (todo.length) {
    for (const k of childrenOf(todo.pop()!)) {
      if (seen.has(k)) continue;
      seen.add(k);
      todo.push(k);
    }
  }
  return [...seen];
}

/** Samples process trees, remembering each pid's last CPU time so the next sample gives the CPU % in between. */
export class ProcUsage {
  private readonly history = new Map<number, History>();

  /** Usage of these pids; those already gone are left out (`pids` of the answer says which were measured). */
  sample(pids: Iterable<number>): TreeUsage {
    const now = Date.now();
    const uptimeS = readUptimeS();
    let cpu = 0;
    let rss = 0;
    const seen: number[] = [];
    for (const pid of new Set(pids)) {
      const stat = readStat(pid);
      const mem = stat && readRss(pid);
      if (!stat || mem === undefined) continue;
      rss += mem;
      seen.push(pid);
      const prev = this.history.get(pid);
      const same = prev !== undefined && prev.startS === stat.startS;
      if (same && uptimeS - prev.uptimeS < MIN_WINDOW_S) {
        cpu += prev.cpu;
        prev.usedAt = now;
        continue;
      }
      const cpuS = same ? stat.cpuS - prev.cpuS : stat.cpuS;
      const wallS = same ? uptimeS - prev.uptimeS : uptimeS - stat.startS;
      const pidCpu = wallS > 0 ? (Math.max(0, cpuS) / wallS) * 100 : 0;
      cpu += pidCpu;
      this.history.set(pid, { cpuS: stat.cpuS, startS: stat.startS, uptimeS, cpu: pidCpu, usedAt: now });
    }
    for (const [pid, h] of this.history) if (now - h.usedAt > HISTORY_MAX_AGE_MS) this.history.delete(pid);
    return { cpu, rss, pids: seen.sort((a, b) => a - b) };
  }

  clear(): void {
    this.history.clear();
  }
}

/** Measures an app: its process tree from `root`, plus `extra` pids (its cgroup's, which may have left the tree). */
export interface UsageSampler {
  sample(root: number, extra: number[]): Promise<TreeUsage>;
  clear(): void;
}

/** /proc where there is one (Linux); elsewhere `ps` through pidtree and pidusage, slow but portable. */
export function createUsageSampler(): UsageSampler {
  if (existsSync('/proc/uptime')) {
    const usage = new ProcUsage();
    return { sample: async (root, extra) => usage.sample([...processTree(root), ...extra]), clear: () => usage.clear() };
  }
  return { sample: portableSample, clear: () => pidusage.clear() };
}

export async function portableSample(root: number, extra: number[]): Promise<TreeUsage> {
  const pids = [...new Set([...(await pidtree(root, { root: true }).catch(() => [root])), ...extra])];
  // A process of the tree may exit between the two calls, which fails the whole query: then the app alone.
  const none = {} as Record<string, pidusage.Status>;
  const stats = await pidusage(pids).catch(() => pidusage([root]).catch(() => none));
  const found = Object.values(stats).filter((s) => s);
  return {
    cpu: found.reduce((sum, s) => sum + s.cpu, 0),
    rss: found.reduce((sum, s) => sum + s.memory, 0),
    pids: found.map((s) => s.pid).sort((a, b) => a - b),
  };
}
