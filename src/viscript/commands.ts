// The command set of the 2017 Viscript shell (with its aliases) plus logs/kill/restart/quit. Each handler
// returns a structured result (ok + one text + data) that every front end renders the same way.
import { SignalError } from '../signal/errors.js';
import type { Engine } from './engine.js';
import { commandLine, describeExit, describeReportedUsage, formatBytes, formatDuration, stateText, table, uptimeMs } from './format.js';
import { UnknownAppError, UnknownIdError, type AppInfo, type StopOutcome } from './supervisor.js';

export interface CommandResult {
  ok: boolean;
  /** The canonical command name ("start" for "s"), or "" for an empty or unparsable line. */
  command: string;
  /** What a person reads: one line for errors. */
  text: string;
  data?: unknown;
  /** Front ends clear their screen. */
  clear?: boolean;
}

/** What a command may do to the session that runs it. */
export interface SessionControl {
  readonly interactive: boolean;
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

export function parseId(word: string | undefined, usage: string): number {
  if (word === undefined) throw new UsageError(`missing id (usage: ${usage})`);
  if (!/^\d{1,9}$/.test(word)) throw new UsageError(`"${word}" is not an id: ids are numbers (see "la")`);
  return Number(word);
}

function label(info: AppInfo): string {
  return `${info.id} (${info.name})`;
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
      const data = apps.map((a) => ({ name: a.name, desc: a.desc, daemon: a.daemon, path: a.path, defaultArgs: a.default_args }));
      if (!apps.length) {
        const why = ctx.engine.config.exists ? 'it declares no apps' : 'it does not exist';
        return ok('apps', `no apps: ${ctx.engine.config.file}: ${why}`, data);
      }
      const rows = apps.map((a) => [a.name, a.daemon ? 'daemon' : '', a.desc]);
      return ok('apps', table(['APP', 'KIND', 'DESCRIPTION'], rows), data);
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
    summary: 'list started apps: id, name, pid, state, uptime, args (-f: full command line)',
    arg: 'none',
    run: (ctx, args) => {
      const full = args[0] === '-f';
      noMoreArgs(args, full ? 1 : 0, 'list_apps [-f]');
      const now = Date.now();
      const apps = ctx.engine.supervisor.list().map((a) => ({ ...a, uptimeMs: uptimeMs(a, now) }));
      if (!apps.length) return ok('list_apps', 'no apps started (see "apps", then "start <app>")', apps);
      const rows = apps.map((a) => [
        String(a.id),
        a.name,
        a.pid !== undefined && a.uptimeMs !== undefined ? String(a.pid) : '-',
        stateText(a) + (a.restarts ? ` [${a.restarts} restart${a.restarts > 1 ? 's' : ''}]` : ''),
        a.uptimeMs !== undefined ? formatDuration(a.uptimeMs) : '-',
        commandLine(full ? a.command : a.args),
      ]);
      return ok('list_apps', table(['ID', 'NAME', 'PID', 'STATE', 'UPTIME', full ? 'COMMAND' : 'ARGS'], rows), apps);
    },
  },
  {
    name: 'attach',
    aliases: [],
    usage: 'attach <id>',
    summary: "show an app's output live and send your lines to its stdin; Ctrl+Z detaches",
    arg: 'id',
    run: (ctx, args) => {
      const id = parseId(args[0], 'attach <id>');
      noMoreArgs(args, 1, 'attach <id>');
      const info = ctx.engine.supervisor.get(id);
      if (!ctx.session.interactive) return fail('attach', 'attach needs an interactive session (try "logs <id> -f")');
      if (info.state === 'exited' || info.state === 'failed') return fail('attach', `${label(info)} is not running (${stateText(info)})`);
      ctx.session.attach(id);
      return ok('attach', `attached to ${label(info)}: lines go to its stdin, Ctrl+Z detaches`, { id });
    },
  },
  {
    name: 'ping',
    aliases: [],
    usage: 'ping <id>',
    summary: 'round trip to an app over signal',
    arg: 'id',
    run: async (ctx, args) => {
      const id = parseId(args[0], 'ping <id>');
      noMoreArgs(args, 1, 'ping <id>');
      const info = ctx.engine.supervisor.get(id);
      const ms = await ctx.engine.signal.ping(id).catch((err: unknown) => signalFailure(info, err));
      return ok('ping', `pong from ${label(info)} in ${ms.toFixed(2)} ms`, { id, rttMs: ms });
    },
  },
  {
    name: 'res_usage',
    aliases: ['ru'],
    usage: 'res_usage <id>',
    summary: "CPU and memory of an app's process tree, plus what the app reports over signal",
    arg: 'id',
    run: async (ctx, args) => {
      const id = parseId(args[0], 'res_usage <id>');
      noMoreArgs(args, 1, 'res_usage <id>');
      const info = ctx.engine.supervisor.get(id);
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
    usage: 'shutdown <id>',
    summary: 'stop an app: signal SHUTDOWN, then SIGTERM, then SIGKILL',
    arg: 'id',
    run: async (ctx, args) => {
      const id = parseId(args[0], 'shutdown <id>');
      noMoreArgs(args, 1, 'shutdown <id>');
      const outcome = await ctx.engine.supervisor.stop(id);
      const info = ctx.engine.supervisor.get(id);
      return (outcome.via === 'not-running' ? fail : ok)('shutdown', stopText(info, outcome), { ...info, via: outcome.via });
    },
  },
  {
    name: 'kill',
    aliases: [],
    usage: 'kill <id>',
    summary: "SIGKILL an app's whole process group at once",
    arg: 'id',
    run: async (ctx, args) => {
      const id = parseId(args[0], 'kill <id>');
      noMoreArgs(args, 1, 'kill <id>');
      const outcome = await ctx.engine.supervisor.kill(id);
      const info = ctx.engine.supervisor.get(id);
      return (outcome.via === 'not-running' ? fail : ok)('kill', stopText(info, outcome), { ...info, via: outcome.via });
    },
  },
  {
    name: 'restart',
    aliases: [],
    usage: 'restart <id>',
    summary: 'stop an app (like shutdown) and start it again with the same id and arguments',
    arg: 'id',
    run: async (ctx, args) => {
      const id = parseId(args[0], 'restart <id>');
      noMoreArgs(args, 1, 'restart <id>');
      const info = await ctx.engine.supervisor.restart(id);
      if (info.state === 'failed') return fail('restart', `restart ${label(info)}: ${info.error}`, info);
      return ok('restart', `restarted ${label(info)} (pid ${info.pid})`, info);
    },
  },
  {
    name: 'logs',
    aliases: [],
    usage: 'logs <id> [-n N] [-f]',
    summary: "an app's recent output (-n lines, default 20); -f keeps following until Ctrl+Z",
    arg: 'id',
    run: (ctx, args) => {
      const usage = 'logs <id> [-n N] [-f]';
      const id = parseId(args[0], usage);
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
      const info = ctx.engine.supervisor.get(id);
      const lines = ctx.engine.supervisor.tail(id, n);
      if (follow) ctx.session.follow(id);
      const text = lines.map((l) => l.text).join('\n');
      const empty = ctx.engine.supervisor.tail(id, 1).length === 0;
      const note = empty ? `(no output yet from ${label(info)}; full log: ${info.logFile})` : '';
      return ok('logs', text || note, { id, lines, logFile: info.logFile, following: follow });
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
  if (err instanceof UsageError || err instanceof UnknownAppError || err instanceof UnknownIdError) {
    return fail(command, err.message);
  }
  return fail(command, (err as Error).message ?? String(err));
}

