// Linux cgroup v2 per app, as systemd's KillMode=control-group: every process an app starts stays in the
// app's cgroup whatever it does (fork, double fork, setsid), so stopping the app can reach all of them. A
// process group cannot promise that: setsid leaves it. Used when a cgroup2 hierarchy is mounted and the
// cgroup Viscript runs in is writable (root, or a delegated subtree such as systemd's user@.service);
// otherwise Viscript falls back to process groups.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

// $0 is the cgroup.procs file, "$@" the app's command line.
const JOIN_AND_EXEC = 'echo $$ 2>/dev/null >"$0" || echo "viscript: could not join the app cgroup $0" >&2; exec "$@"';

/** The cgroup2 directory this process belongs to, or undefined when there is none (not Linux, v1 only). */
export function ownCgroupDir(): string | undefined {
  let mountinfo: string;
  let own: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3) ?? '';
  } catch {
    return undefined;
  }
  if (!own.startsWith('/')) return undefined;
  // "... <mount point> <options> - cgroup2 <source> <super options>"; a hybrid system mounts it at .../unified.
  const line = mountinfo.split('\n').find((l) => / - cgroup2 /.test(l));
  const mountPoint = line?.split(' ')[4];
  if (!mountPoint) return undefined;
  const dir = join(mountPoint, own);
  return existsSync(join(dir, 'cgroup.procs')) ? dir : undefined;
}

/** The cgroups of one Viscript run: `<own cgroup>/viscript-<pid>-<random>/app-<id>`. */
export class AppCgroups {
  private constructor(readonly dir: string) {}

  /** Creates the run's cgroup, or returns undefined (with the reason) when cgroups cannot be used here. */
  static create(): AppCgroups | { unavailable: string } {
    if (process.env.VISCRIPT_CGROUPS === 'off') return { unavailable: 'VISCRIPT_CGROUPS=off' };
    const parent = ownCgroupDir();
    if (!parent) return { unavailable: 'no cgroup2 hierarchy' };
    removeEmptyLeftovers(parent);
    const dir = join(parent, `viscript-${process.pid}-${randomBytes(3).toString('hex')}`);
    if (!existsSync('/bin/sh')) return { unavailable: 'no /bin/sh to start apps in their cgroup' };
    // A probe: the run's cgroup is made for real when the first app starts, so a Viscript that starts no app
    // (or is killed before) leaves no empty cgroup behind.
    try {
      mkdirSync(dir);
      rmdirSync(dir);
    } catch (err) {
      return { unavailable: `cannot create a cgroup in ${parent}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    return new AppCgroups(dir);
  }

  /** The cgroups of a run recorded earlier (to clean it up after Viscript was killed). */
  static existing(dir: string): AppCgroups | undefined {
    return existsSync(join(dir, 'cgroup.procs')) ? new AppCgroups(dir) : undefined;
  }

  /**
   * The command that runs `file argv...` inside app `id`'s cgroup: a shell that moves itself there, then
   * execs the app (same pid). Moving the app after spawn would race with its first fork (a shell script forks
   * within microseconds); this way nothing it starts is ever outside. If the move fails the app still runs,
   * in its process group only, and says so on its stderr.
   */
  wrap(id: number, file: string, argv: string[]): { file: string; argv: string[] } {
    const dir = this.appDir(id);
    mkdirSync(dir, { recursive: true });
    return { file: '/bin/sh', argv: ['-c', JOIN_AND_EXEC, join(dir, 'cgroup.procs'), file, ...argv] };
  }

  /** The pids in app `id`'s cgroup (empty when it has none). */
  pids(id: number): number[] {
    return readPids(this.appDir(id));
  }

  /** Every pid of the run, all apps. */
  allPids(): number[] {
    return [this.dir, ...listChildren(this.dir).map((c) => join(this.dir, c))].flatMap(readPids);
  }

  /** Sends `sig` to every process of app `id`'s cgroup. */
  signal(id: number, sig: NodeJS.Signals): void {
    if (sig === 'SIGKILL') return killAll(this.appDir(id));
    for (const pid of readPids(this.appDir(id))) signalPid(pid, sig);
  }

  /** SIGKILLs every process of the run (all apps), then removes the cgroups that emptied. */
  async killAll(): Promise<void> {
    this.killAllNow();
    await this.removeWhenEmpty();
  }

  /** The synchronous part of killAll, for process 'exit'. */
  killAllNow(): void {
    killAll(this.dir);
  }

  /** Removes app `id`'s cgroup once its processes have finished dying (kept if they do not). */
  async removeApp(id: number): Promise<void> {
    await removeWhenEmpty(this.appDir(id));
  }

  async removeWhenEmpty(): Promise<void> {
    for (const child of listChildren(this.dir)) await removeWhenEmpty(join(this.dir, child));
    await removeWhenEmpty(this.dir);
  }

  private appDir(id: number): string {
    return join(this.dir, `app-${id}`);
  }
}

/**
 * Removes the empty run cgroups of Viscripts that are gone (killed, so they could not): rmdir only ever
 * removes an empty cgroup, so this never touches a process. Those still holding processes are left to the
 * next start on their state dir, which knows them from its run record.
 */
function removeEmptyLeftovers(parent: string): void {
  for (const name of listChildren(parent)) {
    const m = /^viscript-(\d+)-[0-9a-f]{6}$/.exec(name);
    if (!m || pidExists(Number(m[1]))) continue;
    const dir = join(parent, name);
    for (const child of listChildren(dir)) tryRmdir(join(dir, child));
    tryRmdir(dir);
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or gone
  }
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The child cgroups of `dir` (its subdirectories). */
function listChildren(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGKILL to a cgroup and everything below it: cgroup.kill (Linux 5.14+), else each pid until none is left. */
function killAll(dir: string): void {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1\n');
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return; // the cgroup itself is gone
  }
  // An older kernel: kill what is there, children too, a few rounds in case something forked meanwhile.
  for (let round = 0; round < 5; round++) {
    const pids = [dir, ...listChildren(dir).map((c) => join(dir, c))].flatMap(readPids);
    if (!pids.length) return;
    for (const pid of pids) signalPid(pid, 'SIGKILL');
  }
}

/** rmdir once the cgroup has no process left; killed processes take a moment to finish exiting. */
async function removeWhenEmpty(dir: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EBUSY' || Date.now() > deadline) return; // ENOENT: already gone
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
