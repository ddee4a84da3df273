// The command set of the 2017 Viscript shell (with its aliases) plus logs/kill/restart/quit. Each handler
// returns a structured result (ok + one text + data) that every front end renders the same way.
import { SignalError } from '../signal/errors.js';
import type { Engine } from './engine.js';
import { commandLine, describeExit, stampedLine, describeReportedUsage, formatBytes, formatDuration, stateText, table, uptimeMs } from './format.js';
import { UnknownAppError, UnknownIdError, type AppInfo, type StopOutcome } from './supervisor.js';
import { isLive, resolveOne, resolveTargets, TargetError } from './targets.js';

export interface CommandResult {
  ok: boolean;
  /** The canonical command name ("start" for "s"), or "" for an empty or unparsable line. */
  command: string;
  /** What a person reads: one line for errors. */
  text: string;
  data?: unknown;
  /** Front ends clear their screen. */
  clear?: boolean;
  /** The machine that ran it, for a command a cluster hub ran on another machine. */
  machine?: string;
}

/** What a command may do to the session that runs it. */
export interface SessionControl {
  readonly interactive: boolean;
  /** The reader's terminal width, when known: `la` fits its rows to it. */
  readonly columns?: number;
  attach(id: number): void;
  follow(id: number): void;
}

export interface CommandContext {
  engine: Engine;
  session: SessionControl;
}

export type ArgKind = 'app' | 'id' | 'command' | 'none';

export interface CommandSpec {
  name: string;
  aliases: string[];
  usage: string;
  summary: string;
  /** What the first argument is, for tab completion. */
  arg: ArgKind;
  run(ctx: CommandContext, args: string[]): Promise<CommandResult> | CommandResult;
}

export class UsageError extends Error {}

const ok = (command: string, text: string, data?: unknown): CommandResult => ({ ok: true, command, text, data });
export const fail = (command: string, text: string, data?: unknown): CommandResult => ({ ok: false, command, text, data });

function label(info: AppInfo): string {
  return `${info.id} (${info.name})`;
}

/** One result for a command run on several entries: each one's line, ok only if every one succeeded. */
async function eachTarget(
  command: string,
  targets: AppInfo[],
  run: (info: AppInfo) => Promise<{ ok: boolean; text: string; data: unknown }>,
): Promise<CommandResult> {
  const results = await Promise.all(
    targets.map((t) => run(t).catch((err: unknown) => ({ ok: false, text: `${label(t)}: ${(err as Error).message}`, data: { id: t.id } }))),
  );
  const text = results.map((r) => r.text).join('\n');
  if (results.length === 1) return (results[0].ok ? ok : fail)(command, text, results[0].data);
  return (results.every((r) => r.ok) ? ok : fail)(command, text, results.map((r) => r.data));
}

/** For stop-like verbs: an id as given; a name or `all` means those of its entries that still run. */
function liveTargets(ctx: CommandContext, word: string | undefined, usage: string): AppInfo[] {
  const found = resolveTargets(ctx.engine.supervisor, word, usage);
  if (word !== undefined && /^\d+$/.test(word) && found.length === 1) return found;
  const live = found.filter(isLive);
  if (!live.length) throw new TargetError(`nothing to stop: no entry of ${word === 'all' ? 'any app' : word} is running (see "la")`);
  return live;
}

function noMoreArgs(args: string[], from: number, usage: string): void {
  if (args.length > from) throw new UsageError(`unexpected "${args[from]}" (usage: ${usage})`);
}

function stopText(info: AppInfo, o: StopOutcome): string {
  if (o.via === 'not-running') return `${label(info)} is not running (${stateText(info)})`;
  if (o.via === 'restart-cancelled') return `${label(info)} stopped: its pending restart was cancelled (it ${describeExit(info)})`;
  const how = o.via === 'signal' ? 'after the signal SHUTDOWN' : `after ${o.via} to its process group`;
  return `${label(info)} stopped: ${describeExit({ exitCode: o.code, exitSignal: o.signal })} ${how}`;
}

/** What `la` gives for each entry (its data), as the rows of its table; a cluster hub merges machines' rows. */
export interface ListedApp {
  id: number;
  name: string;
  pid?: number;
  state: AppInfo['state'];
  exitCode?: number | null;
  exitSignal?: string | null;
  error?: string;
  restarts?: number;
  uptimeMs?: number;
  cpu?: number;
  rss?: number;
  args: string[];
  command: string[];
}

export function listAppsTable(apps: ListedApp[], full: boolean): { header: string[]; rows: string[][] } {
  const header = ['ID', 'NAME', 'PID', 'STATE', 'UPTIME', 'CPU', 'MEM', full ? 'COMMAND' : 'ARGS'];
  const rows = apps.map((a) => [
    String(a.id),
    a.name,
    a.pid !== undefined && a.uptimeMs !== undefined ? String(a.pid) : '-',
    stateText(a as AppInfo) + (a.restarts ? ` [${a.restarts} restart${a.restarts > 1 ? 's' : ''}]` : ''),
    a.uptimeMs !== undefined ? formatDuration(a.uptimeMs) : '-',
    a.cpu !== undefined ? `${a.cpu.toFixed(1)}%` : '-',
    a.rss !== undefined ? formatBytes(a.rss) : '-',
    commandLine(full ? a.command : a.args),
  ]);
  return { header, rows };
}

/** What `apps` gives for each app (its data). */
export interface AppsEntry {
  name: string;
  desc: string;
  daemon: boolean;
  path: string;
  defaultArgs: string[];
  origin?: string;
}

/** The `apps` table; a FROM column only when some definition was pushed by a cluster hub. */
export function appsTable(apps: AppsEntry[]): { header: string[]; rows: string[][] } {
  const pushed = apps.some((a) => a.origin);
  const header = ['APP', 'KIND', 'DESCRIPTION', ...(pushed ? ['FROM'] : [])];
  const rows = apps.map((a) => [a.name, a.daemon ? 'daemon' : '', a.desc, ...(pushed ? [a.origin ?? 'config.yaml'] : [])]);
  return { header, rows };
}

const NOT_A_HUB = 'this Viscript is not a cluster hub: config.yaml has no cluster.machines (see docs/cluster.md)';

const GUI_ONLY = (name: string, aliases: string[]): CommandSpec => ({
  name,
  aliases,
  usage: name,
  summary: 'terminal windows: GUI only',
  arg: 'none',
  run: () => fail(name, `${name}: terminal windows belong to the GUI; this text shell has none`),
});

export const COMMANDS: CommandSpec[] = [
  {
    name: 'help',
    aliases: ['h', '?'],
    usage: 'help [app|command]',
    summary: 'list commands, or show the help of an app or a command',
    arg: 'app',
    run: (ctx, args) => {
      noMoreArgs(args, 1, 'help [app|command]');
      if (args.length === 0) {
        const rows = COMMANDS.map((c) => [[c.name, ...c.aliases].join('|'), c.usage, c.summary]);
        const text = [
          table(['COMMAND', 'USAGE', 'WHAT IT DOES'], rows),
          '',
          'Arguments may be quoted (\'...\' or "..."). When attached, lines go to the app; Ctrl+Z detaches.',
          ...(ctx.engine.cluster
            ? ['On this hub, MACHINE:ID or MACHINE:NAME runs a command on that machine (ping m2:2, s m2:ticker);',
               '"la @all" and "apps @all" list every machine, "restart NAME @all" restarts one machine at a time.']
            : []),
        ].join('\n');
        return ok('help', text, { commands: COMMANDS.map(({ name, aliases, usage, summary }) => ({ name, aliases, usage, summary })) });
      }
      const app = ctx.engine.config.apps.get(args[0]);
      if (app) {
        const lines = [`${app.name}${app.daemon ? ' (daemon)' : ''}: ${app.desc || '(no description)'}`];
        lines.push(`path: ${app.path}`);
        if (app.default_args.length) lines.push(`default args: ${commandLine(app.default_args)}`);
        if (app.restart !== 'never') lines.push(`restart: ${app.restart}`);
        if (app.help) lines.push('', app.help.trimEnd());
        return ok('help', lines.join('\n'), { app: { ...app } });
      }
      const cmd = findCommand(args[0]);
      if (cmd) return ok('help', `${cmd.usage}  (aliases: ${cmd.aliases.join(', ') || 'none'})\n${cmd.summary}`, { command: cmd.name });
      return fail('help', `no app or command named "${args[0]}" (see "apps" and "help")`);
    },
  },
  {
    name: 'apps',
    aliases: [],
    usage: 'apps',
    summary: 'list the apps that can be started (from config.yaml)',
    arg: 'none',
    run: (ctx, args) => {
      noMoreArgs(args, 0, 'apps');
      const apps = [...ctx.engine.config.apps.values()];
      const data: AppsEntry[] = apps.map((a) => ({
        name: a.name,
        desc: a.desc,
        daemon: a.daemon,
        path: a.path,
        defaultArgs: a.default_args,
        ...(a.origin ? { origin: a.origin } : {}),
      }));
      if (!apps.length) {
        const why = ctx.engine.config.exists ? 'it declares no apps' : 'it does not exist';
        return ok('apps', `no apps: ${ctx.engine.config.file}: ${why}`, data);
      }
      const { header, rows } = appsTable(data);
      return ok('apps', table(header, rows), data);
    },
  },
  {
    name: 'start',
    aliases: ['s'],
    usage: 'start [-a] <app> [args...]',
    summary: 'start an app (args replace its default_args); -a attaches to it',
    arg: 'app',
    run: async (ctx, args) => {
      const usage = 'start [-a] <app> [args...]';
      let attach = false;
      let rest = args;
      if (rest[0] === '-a') {
        attach = true;
        rest = rest.slice(1);
      }
      if (!rest.length) throw new UsageError(`missing app name (usage: ${usage}; see "apps")`);
      const [name, ...appArgs] = rest;
      const info = await ctx.engine.supervisor.start(name, appArgs);
      if (info.state === 'failed') return fail('start', `start ${name}: ${info.error} (id ${info.id}, see "la")`, info);
      let text = `started ${name} with id ${info.id} (pid ${info.pid})`;
      if (attach) {
        if (info.daemon) text += `; not attaching: ${name} is a daemon`;
        else if (!ctx.session.interactive) text += '; attach needs an interactive session';
        else {
          ctx.session.attach(info.id);
          text += `; attached (Ctrl+Z detaches)`;
        }
      }
      return ok('start', text, info);
    },
  },
  {
    name: 'list_apps',
    aliases: ['la'],
    usage: 'list_apps [-f]',
    summary: 'list started apps: id, name, pid, state, uptime, CPU, memory, args (-f: the full command line, untruncated)',
    arg: 'none',
    run: async (ctx, args) => {
      const full = args[0] === '-f';
      noMoreArgs(args, full ? 1 : 0, 'list_apps [-f]');
      const now = Date.now();
      const sup = ctx.engine.supervisor;
      const apps = await Promise.all(
        sup.list().map(async (a) => {
          const up = uptimeMs(a, now);
          // What the OS says of the whole process tree, as `ru` measures it; none for an app that does not run.
          const usage = up !== undefined ? await sup.usage(a.id).catch(() => undefined) : undefined;
          return { ...a, uptimeMs: up, ...(usage ? { cpu: usage.cpu, rss: usage.rss } : {}) };
        }),
      );
      if (!apps.length) return ok('list_apps', 'no apps started (see "apps", then "start <app>")', apps);
      const { header, rows } = listAppsTable(apps, full);
      // Rows that wrap are unreadable: the last column is cut to the reader's width (-f shows it all).
      const width = full ? undefined : ctx.session.columns;
      return ok('list_apps', table(header, rows, width), apps);
    },
  },
  {
    name: 'attach',
    aliases: [],
    usage: 'attach <id|app>',
    summary: "show an app's output live and send your lines to its stdin; Ctrl+Z detaches",
    arg: 'id',
    run: (ctx, args) => {
      const info = resolveOne(ctx.engine.supervisor, args[0], 'attach <id|app>');
      const id = info.id;
      noMoreArgs(args, 1, 'attach <id|app>');
      if (!ctx.session.interactive) return fail('attach', 'attach needs an interactive session (try "logs <id> -f")');
      if (info.state === 'exited' || info.state === 'failed') return fail('attach', `${label(info)} is not running (${stateText(info)})`);
      ctx.session.attach(id);
      return ok('attach', `attached to ${label(info)}: lines go to its stdin, Ctrl+Z detaches`, { id });
    },
  },
  {
    name: 'ping',
    aliases: [],
    usage: 'ping <id|app>',
    summary: 'round trip to an app over signal',
    arg: 'id',
    run: async (ctx, args) => {
      const info = resolveOne(ctx.engine.supervisor, args[0], 'ping <id|app>');
      const id = info.id;
      noMoreArgs(args, 1, 'ping <id|app>');
      const ms = await ctx.engine.signal.ping(id).catch((err: unknown) => signalFailure(info, err));
      return ok('ping', `pong from ${label(info)} in ${ms.toFixed(2)} ms`, { id, rttMs: ms });
    },
  },
  {
    name: 'res_usage',
    aliases: ['ru'],
    usage: 'res_usage <id|app>',
    summary: "CPU and memory of an app's process tree, plus what the app reports over signal",
    arg: 'id',
    run: async (ctx, args) => {
      const info = resolveOne(ctx.engine.supervisor, args[0], 'res_usage <id|app>');
      const id = info.id;
      noMoreArgs(args, 1, 'res_usage <id|app>');
      const measured = await ctx.engine.supervisor.usage(id);
      const lines = [
        `${label(info)}: cpu ${measured.cpu.toFixed(1)}%  rss ${formatBytes(measured.rss)}  ` +
          `(${measured.pids.length} process${measured.pids.length > 1 ? 'es' : ''}: ${measured.pids.join(' ')})`,
      ];
      let reported: Record<string, unknown> | undefined;
      if (ctx.engine.signal.isRegistered(id)) {
        try {
          reported = await ctx.engine.signal.top(id);
          lines.push(`reported by the app: ${describeReportedUsage(reported)}`);
        } catch (err) {
          lines.push(`reported by the app: none (${(err as Error).message})`);
        }
      } else {
        lines.push('reported by the app: none (not a registered signal client)');
      }
      return ok('res_usage', lines.join('\n'), { id, ...measured, ...(reported ? { reported } : {}) });
    },
  },
  {
    name: 'shutdown',
    aliases: ['sd'],
    usage: 'shutdown <id|app|all>',
    summary: 'stop apps: signal SHUTDOWN, then SIGTERM, then SIGKILL (an app name: each instance; all: every app)',
    arg: 'id',
    run: async (ctx, args) => {
      const usage = 'shutdown <id|app|all>';
      const targets = liveTargets(ctx, args[0], usage);
      noMoreArgs(args, 1, usage);
      return eachTarget('shutdown', targets, async (t) => {
        const outcome = await ctx.engine.supervisor.stop(t.id);
        const info = ctx.engine.supervisor.get(t.id);
        return { ok: outcome.via !== 'not-running', text: stopText(info, outcome), data: { ...info, via: outcome.via } };
      });
    },
  },
  {
    name: 'kill',
    aliases: [],
    usage: 'kill <id|app|all>',
    summary: "SIGKILL an app's whole process group at once",
    arg: 'id',
    run: async (ctx, args) => {
      const usage = 'kill <id|app|all>';
      const targets = liveTargets(ctx, args[0], usage);
      noMoreArgs(args, 1, usage);
      return eachTarget('kill', targets, async (t) => {
        const outcome = await ctx.engine.supervisor.kill(t.id);
        const info = ctx.engine.supervisor.get(t.id);
        return { ok: outcome.via !== 'not-running', text: stopText(info, outcome), data: { ...info, via: outcome.via } };
      });
    },
  },
  {
    name: 'restart',
    aliases: [],
    usage: 'restart <id|app|all>',
    summary: 'stop an app (like shutdown) and start it again with the same id and arguments; clears fatal',
    arg: 'id',
    run: async (ctx, args) => {
      const usage = 'restart <id|app|all>';
      const found = resolveTargets(ctx.engine.supervisor, args[0], usage);
      noMoreArgs(args, 1, usage);
      // A name or `all`: what runs or was given up on (fatal); a name with neither: its newest entry.
      let targets = found.length === 1 ? found : found.filter((a) => isLive(a) || a.state === 'fatal');
      if (!targets.length && args[0] !== 'all') targets = [found[found.length - 1]];
      if (!targets.length) throw new TargetError('nothing to restart: no app runs (see "la")');
      return eachTarget('restart', targets, async (t) => {
        const info = await ctx.engine.supervisor.restart(t.id);
        if (info.state === 'failed') return { ok: false, text: `restart ${label(info)}: ${info.error}`, data: info };
        return { ok: true, text: `restarted ${label(info)} (pid ${info.pid})`, data: info };
      });
    },
  },
  {
    name: 'logs',
    aliases: [],
    usage: 'logs <id|app> [-n N] [-f]',
    summary: "an app's recent output (-n lines, default 20); -f keeps following until Ctrl+Z",
    arg: 'id',
    run: (ctx, args) => {
      const usage = 'logs <id|app> [-n N] [-f]';
      let n = 20;
      let follow = false;
      for (let i = 1; i < args.length; i++) {
        if (args[i] === '-f') follow = true;
        else if (args[i] === '-n') {
          const v = args[++i];
          if (v === undefined || !/^\d{1,7}$/.test(v)) throw new UsageError(`-n needs a number of lines (usage: ${usage})`);
          n = Number(v);
        } else throw new UsageError(`unexpected "${args[i]}" (usage: ${usage})`);
      }
      const info = resolveOne(ctx.engine.supervisor, args[0], usage);
      const id = info.id;
      const lines = ctx.engine.supervisor.tail(id, n);
      if (follow) ctx.session.follow(id);
      const text = lines.map(stampedLine).join('\n');
      const empty = ctx.engine.supervisor.tail(id, 1).length === 0;
      const note = empty ? `(no output yet from ${label(info)}; full log: ${info.logFile})` : '';
      return ok('logs', text || note, { id, lines, logFile: info.logFile, following: follow });
    },
  },
  {
    name: 'rm',
    aliases: ['remove'],
    usage: 'rm <id|app|exited>',
    summary: 'forget entries that no longer run (exited, failed, fatal): one id, an app\'s, or every one',
    arg: 'id',
    run: async (ctx, args) => {
      const usage = 'rm <id|app|exited>';
      const word = args[0] === 'exited' ? 'all' : args[0];
      const found = resolveTargets(ctx.engine.supervisor, word, usage);
      noMoreArgs(args, 1, usage);
      const single = word !== undefined && /^\d+$/.test(word);
      const ended = single ? found : found.filter((a) => !isLive(a));
      if (!ended.length) throw new TargetError(`nothing to remove: every entry of ${word === 'all' ? 'every app' : word} still runs`);
      return eachTarget('rm', ended, async (t) => {
        const info = await ctx.engine.supervisor.remove(t.id);
        return { ok: true, text: `removed ${label(info)} (${stateText(info)})`, data: info };
      });
    },
  },
  {
    name: 'reload',
    aliases: [],
    usage: 'reload',
    summary: 're-read config.yaml: new apps can start, changes apply at each app\'s next start; errors keep the old one',
    arg: 'none',
    run: (ctx, args) => {
      noMoreArgs(args, 0, 'reload');
      const r = ctx.engine.reload();
      const parts = [
        r.added.length ? `added ${r.added.join(', ')}` : '',
        r.changed.length ? `changed ${r.changed.join(', ')} (applies at its next start)` : '',
        r.removed.length ? `removed ${r.removed.join(', ')} (running instances keep running)` : '',
      ].filter(Boolean);
      return ok('reload', `reloaded ${ctx.engine.config.file}: ${parts.join('; ') || 'no app changed'}`, r);
    },
  },
  {
    name: 'clear',
    aliases: ['cls', 'c'],
    usage: 'clear',
    summary: 'clear the screen',
    arg: 'none',
    run: () => ({ ok: true, command: 'clear', text: '', clear: true }),
  },
  {
    name: 'quit',
    aliases: ['exit'],
    usage: 'quit',
    summary: 'stop every app and Viscript itself',
    arg: 'none',
    run: (ctx) => {
      ctx.engine.requestQuit();
      return ok('quit', 'stopping every app and Viscript');
    },
  },
  {
    name: 'machines',
    aliases: ['lm'],
    usage: 'machines',
    summary: 'cluster hub: the machines of cluster.machines, online or offline, with OS, load, memory and apps',
    arg: 'none',
    run: () => fail('machines', NOT_A_HUB),
  },
  {
    name: 'deploy',
    aliases: [],
    usage: 'deploy NAME MACHINE[,MACHINE...]|@all',
    summary: "cluster hub: push this hub's definition of app NAME to machines (stored there), and start it where none runs",
    arg: 'app',
    run: () => fail('deploy', NOT_A_HUB),
  },
  GUI_ONLY('new_term', ['nt']),
  GUI_ONLY('list_terms', ['lt']),
  GUI_ONLY('focus', ['foc']),
  GUI_ONLY('close_term', ['ct']),
  GUI_ONLY('defocus', []),
  GUI_ONLY('move_term', ['mt']),
];

const BY_NAME = new Map<string, CommandSpec>();
for (const c of COMMANDS) for (const n of [c.name, ...c.aliases]) BY_NAME.set(n, c);

export function findCommand(word: string): CommandSpec | undefined {
  return BY_NAME.get(word);
}

export function commandWords(): string[] {
  return [...BY_NAME.keys()];
}

function signalFailure(info: AppInfo, err: unknown): never {
  if (err instanceof SignalError && err.code === 'not_registered') {
    const why = info.state === 'exited' || info.state === 'failed' ? stateText(info) : 'it has not registered as a signal client';
    throw new Error(`${label(info)} cannot answer: ${why}`);
  }
  throw new Error(`${label(info)}: ${(err as Error).message}`);
}

/** Errors a user caused (bad id, unknown app, wrong usage) become one-line error results. */
export function errorResult(command: string, err: unknown): CommandResult {
  if (err instanceof UsageError || err instanceof UnknownAppError || err instanceof UnknownIdError || err instanceof TargetError) {
    return fail(command, err.message);
  }
  return fail(command, (err as Error).message ?? String(err));
}

