// <state dir>/run.json: what the running Viscript started (its cgroup, the process group of each app, with
// start times), so that the next Viscript on the same state dir can stop what a Viscript killed with SIGKILL,
// which cannot clean up, left running. Start times make sure a pid reused since then is never signalled.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../util/log.js';
import { AppCgroups } from './app-cgroups.js';

export const RUN_FILE = 'run.json';

const recordSchema = z.object({
  pid: z.number().int().positive(),
  pidStart: z.string().optional(),
  // Only a cgroup this code creates: a record must not make Viscript kill an arbitrary cgroup.
  cgroup: z.string().regex(/^\/.*\/viscript-\d+-[0-9a-f]{6}$/).optional(),
  groups: z.array(z.object({ id: z.number().int(), pgid: z.number().int().positive(), start: z.string().optional() })).max(100_000),
});
type Record = z.infer<typeof recordSchema>;

/** The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The record of this run, rewritten whenever an app starts or exits (rare events). */
export class RunRecord {
  private readonly file: string;
  private readonly record: Record;

  constructor(stateDir: string, cgroup: string | undefined) {
    this.file = join(stateDir, RUN_FILE);
    this.record = { pid: process.pid, pidStart: processStartTime(process.pid), cgroup, groups: [] };
  }

  addGroup(id: number, pgid: number): void {
    this.record.groups.push({ id, pgid, start: processStartTime(pgid) });
    this.write();
  }

  removeGroup(pgid: number): void {
    this.record.groups = this.record.groups.filter((g) => g.pgid !== pgid);
    this.write();
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }

  private write(): void {
    try {
      writeFileSync(this.file, JSON.stringify(this.record) + '\n', { mode: 0o600 });
    } catch {
      // The state dir went away: nothing to record into, and nothing a later start could read.
    }
  }
}

/**
 * Stops whatever a previous Viscript on `stateDir` left running (it was SIGKILLed, or its machine lost power
 * mid-run): its whole cgroup, else the process groups whose leader is still the process recorded. Does
 * nothing while that Viscript still runs. Returns how many processes or groups it stopped.
 */
export async function cleanUpPreviousRun(stateDir: string, log: Logger): Promise<number> {
  const file = join(stateDir, RUN_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 0;
  }
  let parsed: ReturnType<typeof recordSchema.safeParse> | undefined;
  try {
    parsed = recordSchema.safeParse(JSON.parse(text));
  } catch {
    // not JSON
  }
  if (!parsed?.success) {
    log.warn('ignoring a damaged run record', { file });
    rmSync(file, { force: true });
    return 0;
  }
  const rec = parsed.data;
  if (rec.pidStart !== undefined && processStartTime(rec.pid) === rec.pidStart) return 0; // it still runs
  let stopped = 0;
  const cgroups = rec.cgroup ? AppCgroups.existing(rec.cgroup) : undefined;
  if (cgroups) {
    stopped += cgroups.allPids().length;
    await cgroups.killAll();
  }
  for (const g of rec.groups) {
    // A leader that is gone, or whose pid now belongs to another process, is not ours to signal.
    if (g.start === undefined || processStartTime(g.pgid) !== g.start) continue;
    try {
      process.kill(-g.pgid, 'SIGKILL');
      stopped++;
    } catch {
      // already gone
    }
  }
  if (stopped) log.warn('stopped what a previous Viscript left running', { previousPid: rec.pid, stopped });
  rmSync(file, { force: true });
  return stopped;
}
