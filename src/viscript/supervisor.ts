// Starts apps as child processes, each in its own process group and, on Linux with cgroup v2, its own cgroup
// (so stopping it stops everything it started, even what left the group with setsid), drains their output, restarts them by policy, and stops them: politely over signal first, then
// SIGTERM, then SIGKILL. An instance keeps its id for the whole run, across restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { createLogger } from '../util/log.js';
import type { SignalServer } from '../signal/server.js';
import { AppCgroups } from './app-cgroups.js';
import { LineBuffer, RotatingLog, type OutputLine, type StreamName } from './app-output.js';
import type { AppConfig, ViscriptConfig } from './config.js';
import { LaunchError, resolveExecutable, resolveLaunch, type Launch } from './launch.js';
import { RestartPlanner, type RestartTiming } from './restart-policy.js';
import { RunRecord } from './run-record.js';
import { createUsageSampler, type TreeUsage } from './proc-usage.js';

export type AppState = 'starting' | 'running' | 'registered' | 'stopping' | 'restarting' | 'exited' | 'failed' | 'fatal';

/** States in which no process of the app runs nor is about to: the entry only remembers what happened. */
export const ENDED_STATES: readonly AppState[] = ['exited', 'failed', 'fatal'];

export type SignalPort = Pick<SignalServer, 'expect' | 'forget' | 'isRegistered' | 'shutdown'>;

export interface AppInfo {
  id: number;
  name: string;
  args: string[];
  command: string[];
  pid?: number;
  state: AppState;
  /** ms since the epoch of the current (or last) run's start. */
  startedAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  exitSignal?: string | null;
  /** Why the app could not be started (ENOENT, EACCES...), or why Viscript gave up on it (fatal). */
  error?: string;
  /** fatal: its last lines of output before Viscript gave up. */
  lastLines?: string[];
  restarts: number;
  daemon: boolean;
  logFile: string;
}

export interface StopOutcome {
  /** How it ended: it left after the signal SHUTDOWN, after SIGTERM, after SIGKILL, or it was not running. */
  via: 'signal' | 'SIGTERM' | 'SIGKILL' | 'not-running' | 'restart-cancelled';
  code: number | null;
  signal: string | null;
}

export interface SupervisorOptions {
  config: ViscriptConfig;
  stateDir: string;
  signal: SignalPort;
  /** host:port the apps connect back to. */
  signalAddress: string;
  restartTiming?: RestartTiming;
}

class Instance {
  child?: ChildProcess;
  pid?: number;
  state: AppState = 'starting';
  startedAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  exitSignal?: string | null;
  error?: string;
  lastLines?: string[];
  restarts = 0;
  stopRequested = false;
  restartTimer?: NodeJS.Timeout;
  exited?: Promise<void>;
  readonly token = randomBytes(24).toString('base64url');
  readonly buffer = new LineBuffer();
  readonly planner: RestartPlanner;
  /** The process group of the current run while it may have members (its id is the first pid). */
  group?: number;

  constructor(
    readonly id: number,
    /** The definition of its current run: a reloaded config applies at the next start. */
    public app: AppConfig,
    /** What `start` was given, or undefined for default_args. */
    readonly userArgs: string[] | undefined,
    public args: string[],
    public launch: Launch | undefined,
    readonly log: RotatingLog,
    timing: RestartTiming | undefined,
    settings: ViscriptConfig['settings'],
  ) {
    this.planner = new RestartPlanner(app.restart, timing, {
      startRetries: app.startRetries ?? settings.startRetries,
      startTimeMs: settings.startTimeMs,
    });
  }

  info(): AppInfo {
    return {
      id: this.id,
      name: this.app.name,
      args: this.args,
      command: this.launch?.display ?? [this.app.path, ...this.args],
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      state: this.state,
      ...(this.startedAt !== undefined ? { startedAt: this.startedAt } : {}),
      ...(this.exitedAt !== undefined ? { exitedAt: this.exitedAt } : {}),
      ...(this.exitCode !== undefined ? { exitCode: this.exitCode } : {}),
      ...(this.exitSignal !== undefined ? { exitSignal: this.exitSignal } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.lastLines !== undefined ? { lastLines: this.lastLines } : {}),
      restarts: this.restarts,
      daemon: this.app.daemon,
      logFile: this.log.path,
    };
  }
}

export class UnknownAppError extends Error {}
export class UnknownIdError extends Error {}

/**
 * Events: 'output' (id, stream, chunk: string, lines: OutputLine[]), 'state' (AppInfo),
 * 'exit' (AppInfo) once per run.
 */
export class Supervisor extends EventEmitter {
  private readonly instances = new Map<number, Instance>();
  private nextId = 2; // 2017: ids start at 2 (1 is the signal client default) and are never reused
  private closing = false;
  private readonly log = createLogger('viscript.supervisor');
  /** The run's cgroups, when Linux offers them; otherwise process groups are all there is. */
  private readonly cgroups?: AppCgroups;
  private readonly usageSampler = createUsageSampler();
  private readonly record: RunRecord;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    const cg = AppCgroups.create();
    if (cg instanceof AppCgroups) this.cgroups = cg;
    else this.log.info('apps run in process groups only', { why: cg.unavailable });
    this.record = new RunRecord(opts.stateDir, this.cgroups?.dir);
  }

  /** How far "stop" reaches: every process an app started (cgroup), or its process group. */
  get containment(): 'cgroup' | 'process-group' {
    return this.cgroups ? 'cgroup' : 'process-group';
  }

  get config(): ViscriptConfig {
    return this.opts.config;
  }

  /** A reloaded config: new apps can be started, and changed definitions apply at each app's next start. */
  setConfig(config: ViscriptConfig): void {
    this.opts.config = config;
  }

  list(): AppInfo[] {
    return [...this.instances.values()].map((i) => i.info());
  }

  get(id: number): AppInfo {
    return this.instance(id).info();
  }

  has(id: number): boolean {
    return this.instances.has(id);
  }

  tail(id: number, n: number): OutputLine[] {
    return this.instance(id).buffer.tail(n);
  }

  /**
   * Starts `name` with `args` (default_args when none) under a new id. Resolves once the process runs or
   * failed to start; a failed start still takes its id and stays listed, with the reason.
   */
  async start(name: string, args?: string[]): Promise<AppInfo> {
    if (this.closing) throw new Error('Viscript is stopping');
    const app = this.opts.config.apps.get(name);
    if (!app) throw new UnknownAppError(`unknown app "${name}" (see "apps")`);
    const id = this.nextId++;
    const userArgs = args && args.length ? args : undefined;
    const useArgs = argsFor(app, userArgs);
    let launch: Launch | undefined;
    let launchError: LaunchError | undefined;
    try {
      launch = resolveLaunch(app, this.opts.config.dir, useArgs);
    } catch (err) {
      if (!(err instanceof LaunchError)) throw err;
      launchError = err;
    }
    const log = new RotatingLog(
      join(this.opts.stateDir, 'logs', `${id}-${name}.log`),
      this.opts.config.settings.logMaxBytes,
      this.opts.config.settings.logKeep,
    );
    const inst = new Instance(id, app, userArgs, useArgs, launch, log, this.opts.restartTiming, this.opts.config.settings);
    this.instances.set(id, inst);
    if (launchError) {
      this.fail(inst, launchError.message);
      return inst.info();
    }
    await this.spawnRun(inst);
    return inst.info();
  }

  /**
   * Stops an app: signal SHUTDOWN (if it is a client), then SIGTERM, then SIGKILL, each after `graceMs`
   * (default: the app's shutdownGraceMs, else the setting).
   */
  async stop(id: number, graceMs?: number): Promise<StopOutcome> {
    const inst = this.instance(id);
    graceMs ??= inst.app.shutdownGraceMs ?? this.opts.config.settings.shutdownGraceMs;
    inst.stopRequested = true;
    if (this.cancelRestart(inst)) return this.outcome(inst, 'restart-cancelled');
    if (!this.alive(inst)) return this.outcome(inst, 'not-running');
    this.setState(inst, 'stopping');
    const exited = inst.exited!;
    if (this.opts.signal.isRegistered(id)) {
      // The answer may never come (the app exits first); only the exit counts.
      this.opts.signal.shutdown(id).catch(() => undefined);
      if (await settlesWithin(exited, graceMs)) return this.outcome(inst, 'signal');
    }
    this.killGroup(inst, 'SIGTERM');
    if (await settlesWithin(exited, Math.max(graceMs, 500))) return this.outcome(inst, 'SIGTERM');
    this.killGroup(inst, 'SIGKILL');
    await exited;
    return this.outcome(inst, 'SIGKILL');
  }

  /** SIGKILL to the app's process group, no questions asked. */
  async kill(id: number): Promise<StopOutcome> {
    const inst = this.instance(id);
    inst.stopRequested = true;
    if (this.cancelRestart(inst)) return this.outcome(inst, 'restart-cancelled');
    if (!this.alive(inst)) return this.outcome(inst, 'not-running');
    this.setState(inst, 'stopping');
    this.killGroup(inst, 'SIGKILL');
    await inst.exited;
    return this.outcome(inst, 'SIGKILL');
  }

  /**
   * Stops the app if it runs, then starts it again under the same id with the same arguments (and the
   * app's current definition, after a reload). Clears `fatal`: the crash-loop budget starts over.
   */
  async restart(id: number): Promise<AppInfo> {
    const inst = this.instance(id);
    if (this.closing) throw new Error('Viscript is stopping');
    await this.stop(id);
    inst.stopRequested = false;
    inst.planner.reset();
    inst.restarts++;
    await this.spawnRun(inst);
    return inst.info();
  }

  /** Forgets an entry that no longer runs (exited, failed, fatal); its id is not reused. */
  async remove(id: number): Promise<AppInfo> {
    const inst = this.instance(id);
    if (!ENDED_STATES.includes(inst.state)) {
      throw new Error(`${id} (${inst.app.name}) is ${inst.state}: stop it first ("sd ${id}")`);
    }
    this.instances.delete(id);
    this.opts.signal.forget(id);
    await inst.log.close();
    return inst.info();
  }

  /** Writes to the app's stdin (attach). */
  write(id: number, data: string | Buffer): void {
    const inst = this.instance(id);
    if (!this.alive(inst) || !inst.child?.stdin || inst.child.stdin.destroyed) {
      throw new Error(`app ${id} (${inst.app.name}) is not running`);
    }
    inst.child.stdin.write(data);
  }

  /** CPU % and resident memory of the app's whole process tree, as the OS reports them. */
  async usage(id: number): Promise<TreeUsage> {
    const inst = this.instance(id);
    if (!this.alive(inst) || inst.pid === undefined) throw new Error(`app ${id} (${inst.app.name}) is not running`);
    // The cgroup also holds what left the tree (a setsid'd daemon whose parent exited).
    const inCgroup = this.cgroups ? this.cgroups.pids(inst.id) : [];
    const measured = await this.usageSampler.sample(inst.pid, inCgroup);
    if (!measured.pids.length) throw new Error(`app ${id} (${inst.app.name}) is not running`);
    return measured;
  }

  /**
   * A signal client with this id (re)gained or lost its registration. `pid` (sent by our clients, not by 2017
   * ones) tells the current run from a previous run whose connection is only now closing.
   */
  markRegistered(id: number, registered: boolean, pid?: number): void {
    const inst = this.instances.get(id);
    if (!inst || !this.alive(inst) || inst.state === 'stopping') return;
    if (pid !== undefined && pid !== inst.pid) return;
    this.setState(inst, registered ? 'registered' : 'running');
  }

  /** Stops every app (in parallel) and makes sure no process of theirs outlives Viscript. */
  async stopAll(graceMs?: number): Promise<void> {
    this.closing = true;
    await Promise.all([...this.instances.keys()].map((id) => this.stop(id, graceMs).catch(() => undefined)));
    for (const inst of this.instances.values()) {
      if (inst.group !== undefined) signalGroup(inst.group, 'SIGKILL');
      await inst.log.close();
    }
    await this.cgroups?.killAll();
    this.record.remove();
    this.usageSampler.clear();
  }

  /** Last resort when Viscript exits without stopAll(): SIGKILL every process group and cgroup it started. */
  killAllNow(): void {
    for (const inst of this.instances.values()) if (inst.group !== undefined) signalGroup(inst.group, 'SIGKILL');
    this.cgroups?.killAllNow();
  }

  private instance(id: number): Instance {
    const inst = this.instances.get(id);
    if (!inst) throw new UnknownIdError(`no app with id ${id} (see "la")`);
    return inst;
  }

  private alive(inst: Instance): boolean {
    return inst.child !== undefined && inst.exitedAt === undefined;
  }

  /** A stop while the app waits to be restarted just cancels the restart. */
  private cancelRestart(inst: Instance): boolean {
    if (!inst.restartTimer) return false;
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    this.opts.signal.forget(inst.id);
    this.setState(inst, 'exited');
    return true;
  }

  private outcome(inst: Instance, via: StopOutcome['via']): StopOutcome {
    return { via, code: inst.exitCode ?? null, signal: inst.exitSignal ?? null };
  }

  private setState(inst: Instance, state: AppState): void {
    if (inst.state === state) return;
    inst.state = state;
    this.emit('state', inst.info());
  }

  private fail(inst: Instance, why: string): void {
    inst.error = why;
    inst.pid = undefined;
    inst.exitedAt = Date.now();
    this.opts.signal.forget(inst.id);
    this.setState(inst, 'failed');
    inst.log.write(`=== viscript: ${inst.app.name} (id ${inst.id}) could not start: ${why}\n`);
  }

  private killGroup(inst: Instance, sig: NodeJS.Signals): void {
    if (inst.group !== undefined) signalGroup(inst.group, sig);
    this.cgroups?.signal(inst.id, sig);
  }

  /** Takes up the app's definition from the current config (it may have been reloaded). */
  private refresh(inst: Instance): void {
    const current = this.opts.config.apps.get(inst.app.name);
    if (!current || current === inst.app) return;
    inst.app = current;
    inst.args = argsFor(current, inst.userArgs);
    inst.launch = undefined;
    try {
      inst.launch = resolveLaunch(current, this.opts.config.dir, inst.args);
    } catch (err) {
      if (!(err instanceof LaunchError)) throw err;
      inst.error = err.message;
    }
  }

  private async spawnRun(inst: Instance): Promise<void> {
    this.refresh(inst);
    if (!inst.launch) return this.fail(inst, inst.error ?? 'no command');
    const launch = inst.launch;
    const { app, id } = inst;
    // The server accepts untokened REGs only for ids it expects no token for: allowUntokened (for 2017
    // clients, which send none) therefore gives up the per-app token check.
    if (!this.opts.config.settings.allowUntokened) this.opts.signal.expect(id, inst.token);
    inst.error = undefined;
    inst.lastLines = undefined;
    inst.exitCode = undefined;
    inst.exitSignal = undefined;
    inst.exitedAt = undefined;
    inst.stopRequested = false;
    this.setState(inst, 'starting');
    inst.log.write(`=== viscript: start ${app.name} (id ${id}) at ${new Date().toISOString()}: ${launch.display.join(' ')}\n`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Our apps' logs as human lines: `logs` stamps every line with its time, so there is one format.
      LOG_FORMAT: 'text',
      ...app.env,
      SIGNAL_CLIENT: 'true',
      SIGNAL_SERVER_ADDRESS: this.opts.signalAddress,
      SIGNAL_CLIENT_ID: String(id),
      SIGNAL_TOKEN: inst.token,
    };
    let command = { file: launch.file, argv: launch.argv };
    if (this.cgroups) {
      try {
        command = this.cgroups.wrap(id, resolveExecutable(launch.file, env.PATH), launch.argv);
      } catch (err) {
        if (err instanceof LaunchError) return this.fail(inst, err.message);
        this.log.warn('cannot create the app cgroup; its process group is all that stop reaches', { id, err });
      }
    }
    const child = spawn(command.file, command.argv, {
      cwd: launch.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group: the group is what gets stopped
    });
    inst.child = child;
    if (child.pid !== undefined) this.record.addGroup(id, child.pid);
    inst.exited = new Promise<void>((resolve) => {
      child.once('error', () => resolve()); // never spawned: there will be no 'exit'
      child.once('exit', (code, signal) => {
        // Like a service manager, what the app left behind in its group goes with it: no strays, and the
        // group id is then free, so a later SIGKILL can never hit a reused id.
        if (inst.group === child.pid) {
          signalGroup(child.pid!, 'SIGKILL');
          inst.group = undefined;
          this.record.removeGroup(child.pid!);
        }
        if (this.cgroups) {
          this.cgroups.signal(id, 'SIGKILL');
          void this.cgroups.removeApp(id);
        }
        // Output still in the pipes arrives before 'close'; wait for it briefly, not forever (a grandchild
        // holding the pipe open must not keep the app "running").
        const done = () => {
          this.onExit(inst, child, code, signal);
          resolve();
        };
        const t = setTimeout(done, 200);
        child.once('close', () => {
          clearTimeout(t);
          done();
        });
      });
    });
    const started = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (err) => resolve(err));
    });
    if (started) {
      const code = (started as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? `${launch.file} not found (ENOENT)`
          : code === 'EACCES'
            ? `${launch.file} is not executable (EACCES)`
            : `${started.message}`;
      inst.child = undefined;
      this.fail(inst, why);
      return;
    }
    inst.pid = child.pid!;
    inst.group = child.pid!;
    inst.startedAt = Date.now();
    child.stdin!.on('error', () => undefined); // writing to an app that just exited is not our failure
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = child[stream]!;
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => this.onOutput(inst, stream, chunk));
    }
    if (inst.exitedAt !== undefined) return; // it already exited (fast apps)
    // A registration still on record belongs to a previous run: this one has had no time to register.
    this.setState(inst, 'running');
    this.log.info('app started', { id, name: app.name, pid: child.pid });
  }

  private onOutput(inst: Instance, stream: StreamName, chunk: string): void {
    inst.log.write(chunk);
    const lines = inst.buffer.push(stream, chunk);
    this.emit('output', inst.id, stream, chunk, lines);
  }

  private onExit(inst: Instance, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (inst.child !== child || inst.exitedAt !== undefined) return;
    const lines = inst.buffer.flush();
    if (lines.length) this.emit('output', inst.id, lines[0].stream, '', lines);
    inst.exitCode = code;
    inst.exitSignal = signal;
    inst.exitedAt = Date.now();
    const uptimeMs = inst.exitedAt - (inst.startedAt ?? inst.exitedAt);
    inst.log.write(`=== viscript: ${inst.app.name} (id ${inst.id}) exited with ${signal ?? `code ${code}`}\n`);
    const delay = inst.stopRequested || this.closing ? undefined : inst.planner.afterExit({ code, signal, uptimeMs });
    if (delay === undefined || delay === 'fatal') {
      this.opts.signal.forget(inst.id);
      if (delay === 'fatal') {
        inst.lastLines = inst.buffer.tail(5).map((l) => l.text);
        inst.error = `gave up after ${inst.planner.quickFailuresInARow} failures in a row, each within ${this.opts.config.settings.startTimeMs} ms of its start`;
        this.log.info('app gave up', { id: inst.id, name: inst.app.name, error: inst.error });
      }
      this.setState(inst, delay === 'fatal' ? 'fatal' : 'exited');
      this.emit('exit', inst.info());
      return;
    }
    this.setState(inst, 'restarting');
    this.emit('exit', inst.info());
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      if (this.closing || inst.stopRequested) return;
      inst.restarts++;
      this.spawnRun(inst).catch((err: Error) => this.fail(inst, err.message));
    }, delay);
  }
}

/** `args` always come first; `start` arguments replace default_args only. */
function argsFor(app: AppConfig, userArgs: string[] | undefined): string[] {
  return [...app.args, ...(userArgs ?? app.default_args)];
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is already gone
  }
}

/** True when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

