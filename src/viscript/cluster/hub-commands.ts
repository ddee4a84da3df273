// The hub's shell verbs: `machines|lm`, `deploy`, `la|apps @all`, the rolling `restart NAME @all`, and any
// command whose target is `MACHINE:ID` or `MACHINE:NAME`, which runs in a shell session on that machine and
// prints there exactly what it prints locally (the agent runs the same command code on its own engine).
import { z } from 'zod';
import { appsTable, findCommand, listAppsTable, type AppsEntry, type CommandResult, type ListedApp } from '../commands.js';
import type { Engine } from '../engine.js';
import { commandLine, formatBytes, formatDuration, table } from '../format.js';
import type { ClusterRouter, RoutedResult, RoutedSession } from '../remote.js';
import { deployReply } from './protocol.js';
import { clock, MachineOfflineError, type ClusterHub, type MachineView } from './hub.js';

/** Commands that take `MACHINE:ID|NAME` (the rest make no sense on another machine, or are the hub's own). */
const FORWARDABLE = new Set(['help', 'apps', 'start', 'list_apps', 'attach', 'ping', 'res_usage', 'shutdown', 'kill', 'restart', 'logs', 'rm', 'reload']);
const MACHINE_TARGET = /^([A-Za-z][A-Za-z0-9_.-]{0,31}):(.*)$/s;

const ok = (command: string, text: string, data?: unknown): RoutedResult => ({ ok: true, command, text, data });
const fail = (command: string, text: string, data?: unknown): RoutedResult => ({ ok: false, command, text, data });

// What la and apps answer, checked before their rows are merged: an agent is trusted to control, not to be
// well-formed.
const listedApps = z.array(z.object({ id: z.number().int(), name: z.string().max(200), state: z.string().max(100), args: z.array(z.string()), command: z.array(z.string()) }).passthrough()).max(100_000);
const appsEntries = z.array(z.object({ name: z.string().max(200), desc: z.string(), daemon: z.boolean(), path: z.string(), defaultArgs: z.array(z.string()), origin: z.string().optional() })).max(100_000);

export class HubRouter implements ClusterRouter {
  constructor(
    private readonly hub: ClusterHub,
    private readonly engine: Engine,
  ) {}

  machineNames(): string[] {
    return this.hub.names();
  }

  machines(): MachineView[] {
    return this.hub.view();
  }

  route(words: string[], session: RoutedSession): Promise<RoutedResult> | undefined {
    const [name, ...args] = words;
    const cmd = findCommand(name);
    if (cmd?.name === 'machines') return Promise.resolve(this.machinesCommand(args));
    if (cmd?.name === 'deploy') return this.deploy(args, session);
    if (!cmd) return undefined;
    const group = args.findIndex((a) => a.startsWith('@'));
    if (group >= 0 && (cmd.name === 'list_apps' || cmd.name === 'apps' || cmd.name === 'restart')) {
      const rest = args.filter((_, i) => i !== group);
      return cmd.name === 'restart' ? this.rolling(rest, args[group], session) : this.listAll(cmd.name, rest, args[group], session);
    }
    // Only the target word counts (`start`'s app after an optional -a, else the first argument): later
    // arguments are the app's own and may well contain a colon (`s web http://x`).
    const at = cmd.name === 'start' && args[0] === '-a' ? 1 : 0;
    if (args[at] === undefined || !MACHINE_TARGET.test(args[at])) return undefined;
    const [, machine, target] = MACHINE_TARGET.exec(args[at])!;
    if (!this.hub.has(machine)) return Promise.resolve(fail(cmd.name, `no machine named "${machine}" (machines: ${this.hub.names().join(', ') || 'none'}; see "lm")`));
    if (!FORWARDABLE.has(cmd.name)) return Promise.resolve(fail(cmd.name, `${cmd.name} runs on this Viscript only; it takes no MACHINE: target`));
    const forwarded = [...args];
    if (target === '') forwarded.splice(at, 1); // `la m2:` is `la` on m2
    else forwarded[at] = target;
    return this.forward(machine, [name, ...forwarded], session, cmd.name);
  }

  /** Runs one line in a session on `machine`; a line that attaches or follows keeps the session. */
  private async forward(machine: string, words: string[], session: RoutedSession, command: string): Promise<RoutedResult> {
    let shell;
    try {
      shell = await this.hub.openShell(machine, session);
    } catch (err) {
      if (err instanceof MachineOfflineError) return fail(command, `${err.message}: cannot run "${commandLine(words)}"`);
      throw err;
    }
    let answer;
    try {
      answer = await shell.submit(commandLine(words));
    } catch (err) {
      shell.close();
      return fail(command, `${machine}: ${(err as Error).message}`);
    }
    if (answer.attached !== null || answer.following) session.useRemote(shell, answer);
    else shell.close();
    return { ...(answer.result ?? ok(command, '')), machine };
  }

  /** A one-line command on `machine` without a session for the caller (no output follows). */
  private async once(machine: string, line: string): Promise<CommandResult> {
    const a = await this.hub.runOnce(machine, line);
    return a.result ?? ok('', '');
  }

  /** `@all`, `@m1,m2` or `m1,m2` as machine names, in the order given (config order for all). */
  private select(word: string): string[] {
    const w = word.replace(/^@/, '');
    if (w === 'all') return this.hub.names();
    const names = w.split(',').filter(Boolean);
    const unknown = names.filter((n) => !this.hub.has(n));
    if (!names.length || unknown.length) {
      throw new MachineOfflineError(`no machine named "${unknown[0] ?? word}" (machines: ${this.hub.names().join(', ') || 'none'}, or @all)`);
    }
    return names;
  }

  private machinesCommand(args: string[]): RoutedResult {
    if (args.length) return fail('machines', `unexpected "${args[0]}" (usage: machines)`);
    const list = this.hub.view();
    const now = Date.now();
    const rows = list.map((m) => {
      const s = m.status;
      const state = m.state === 'online' ? 'online' : m.since !== undefined ? `offline since ${clock(m.since).slice(11)}` : 'offline (never seen)';
      return [
        m.name,
        m.pk.slice(0, 12) + '…',
        state,
        s ? `${s.os.split(' ')[0]}/${s.arch}` : '-',
        s ? String(s.cores) : '-',
        s ? s.load[0].toFixed(2) : '-',
        s ? `${formatBytes(s.memUsed)}/${formatBytes(s.memTotal)}` : '-',
        s ? formatDuration(s.uptimeS * 1000) : '-',
        s ? `${s.appsRunning}/${s.appsConfigured}` : '-',
        s ? s.version : '-',
        m.lastSeen !== undefined ? `${formatDuration(now - m.lastSeen)} ago` : 'never',
      ];
    });
    if (!rows.length) return ok('machines', 'no machines (cluster.machines in config.yaml lists them)', list);
    const header = ['MACHINE', 'PK', 'STATE', 'OS/ARCH', 'CORES', 'LOAD', 'MEM USED/TOTAL', 'UPTIME', 'APPS', 'VERSION', 'LAST SEEN'];
    const notes = list.filter((m) => m.problem).map((m) => `${m.name}: ${m.problem}`);
    return ok('machines', [table(header, rows), ...notes].join('\n'), list satisfies MachineView[]);
  }

  private async listAll(command: 'list_apps' | 'apps', args: string[], group: string, session: RoutedSession): Promise<RoutedResult> {
    const full = command === 'list_apps' && args[0] === '-f';
    const usage = command === 'apps' ? 'apps @all|@MACHINE[,MACHINE...]' : 'list_apps [-f] @all|@MACHINE[,MACHINE...]';
    if (args.length > (full ? 1 : 0)) return fail(command, `unexpected "${args[full ? 1 : 0]}" (usage: ${usage})`);
    const machines = this.select(group);
    const answers = await Promise.all(
      machines.map(async (machine) => {
        try {
          const r = await this.once(machine, command === 'apps' ? 'apps' : 'la');
          if (!r.ok) return { machine, error: r.text };
          const schema = command === 'apps' ? appsEntries : listedApps;
          const d = schema.safeParse(r.data);
          return d.success ? { machine, data: d.data } : { machine, error: 'answered with malformed data' };
        } catch (err) {
          return { machine, error: (err as Error).message };
        }
      }),
    );
    const notes = answers.filter((a) => a.error).map((a) => (a.error!.startsWith(a.machine) ? a.error! : `${a.machine}: ${a.error}`));
    const merged: Array<Record<string, unknown> & { machine: string }> = [];
    for (const a of answers) for (const e of a.data ?? []) merged.push({ machine: a.machine, ...e });
    if (!merged.length) {
      const none = command === 'apps' ? 'no apps on any machine' : 'no apps started on any machine';
      return ok(command, [none, ...notes].join('\n'), merged);
    }
    const t =
      command === 'apps'
        ? appsTable(merged as unknown as AppsEntry[])
        : listAppsTable(merged as unknown as ListedApp[], full);
    const rows = t.rows.map((r, i) => [merged[i].machine, ...r]);
    const text = table(['MACHINE', ...t.header], rows, full ? undefined : session.columns);
    return ok(command, [text, ...notes].join('\n'), merged);
  }

  /** `restart NAME @all`: one machine at a time, in order, stopping at the first that fails. */
  private async rolling(args: string[], group: string, _session: RoutedSession): Promise<RoutedResult> {
    if (args.length !== 1 || args[0].includes(':')) return fail('restart', 'usage: restart NAME @all|@MACHINE[,MACHINE...] (one machine at a time)');
    const machines = this.select(group);
    const lines: string[] = [];
    const data: Array<{ machine: string; ok: boolean; text: string }> = [];
    for (const [i, machine] of machines.entries()) {
      let r: { ok: boolean; text: string };
      try {
        r = await this.once(machine, commandLine(['restart', args[0]]));
      } catch (err) {
        r = { ok: false, text: (err as Error).message };
      }
      const text = r.text.startsWith(machine) ? r.text : `${machine}: ${r.text}`;
      lines.push(text);
      data.push({ machine, ok: r.ok, text: r.text });
      if (!r.ok) {
        const left = machines.slice(i + 1);
        if (left.length) lines.push(`stopped at the first failure: ${left.join(', ')} not restarted`);
        return fail('restart', lines.join('\n'), data);
      }
    }
    return ok('restart', lines.join('\n'), data);
  }

  /** `deploy NAME TARGETS`: pushes the hub's definition of NAME, then starts it where none runs. */
  private async deploy(args: string[], _session: RoutedSession): Promise<RoutedResult> {
    const usage = 'deploy NAME MACHINE[,MACHINE...]|@all';
    if (args.length !== 2) return fail('deploy', `usage: ${usage}`);
    const [name, group] = args;
    const def = this.engine.config.apps.get(name);
    if (!def) return fail('deploy', `this hub's config has no app "${name}": deploy pushes the hub's own definitions (see "apps")`);
    const { name: _n, origin: _o, ...app } = def;
    const machines = this.select(group);
    const lines: string[] = [];
    const data: Array<{ machine: string; ok: boolean; text: string }> = [];
    for (const machine of machines) {
      try {
        const reply = deployReply.parse(await this.hub.request(machine, { t: 'deploy', name, app: JSON.parse(JSON.stringify(app)) }));
        const la = await this.once(machine, 'la');
        const live = listedApps.safeParse(la.data);
        const running = live.success && live.data.some((a) => a.name === name && ['starting', 'running', 'registered', 'restarting'].includes(a.state));
        let text = `${machine}: ${reply.text}`;
        let good = true;
        if (running) text += `; the running ${name} keeps its old definition until "restart ${name} @all"`;
        else {
          const s = await this.once(machine, commandLine(['start', name]));
          text += `; ${s.text}`;
          good = s.ok;
        }
        lines.push(text);
        data.push({ machine, ok: good, text });
      } catch (err) {
        const text = `${machine}: ${(err as Error).message}`;
        lines.push(text);
        data.push({ machine, ok: false, text });
      }
    }
    return (data.every((d) => d.ok) ? ok : fail)('deploy', lines.join('\n'), data);
  }
}
