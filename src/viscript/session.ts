// One shell session: parses lines, runs commands against the shared engine one at a time (so results come
// in order), and owns what is per user: which app it is attached to and which apps' output it follows.
import type { OutputLine, StreamName } from './app-output.js';
import { COMMANDS, commandWords, errorResult, fail, findCommand, type CommandResult, type SessionControl } from './commands.js';
import type { Engine } from './engine.js';
import { describeExit } from './format.js';
import type { AppInfo } from './supervisor.js';
import type { RemoteAnswer, RemoteOutput, RemoteShell, RoutedSession } from './remote.js';
import { ParseError, tokenize } from './tokenize.js';

export type { CommandResult } from './commands.js';

/** Ctrl+Z as a character: how a session without a terminal (headless stdin, a browser) detaches. */
export const DETACH_CHAR = '\x1a';

export interface AppOutput {
  id: number;
  stream: StreamName;
  /** Raw text as the app wrote it (may end mid-line). */
  chunk: string;
  /** The lines it completed. */
  lines: OutputLine[];
  /** Set for an app of another machine (a cluster hub's remote session). */
  machine?: string;
}

export interface AppEvent {
  event: 'exit' | 'restarting' | 'registered' | 'fatal';
  app: AppInfo;
  text: string;
  machine?: string;
}

export interface SessionSink {
  result(r: CommandResult): void;
  output(o: AppOutput): void;
  event?(e: AppEvent): void;
  /** Diagnostic lines asked for by settings.verboseInput / verifyParsingByPrinting. */
  info?(text: string): void;
  /** The session's attach state changed (prompts show it). */
  attachChanged?(id: number | undefined): void;
}

export interface SessionOptions {
  /** Whether the user can type into an attached app (prompt, browser) or only issue commands (one-shot). */
  interactive: boolean;
  /** The reader's terminal width, when known. */
  columns?: number;
  /** Run every line here, never on another machine (the sessions an agent runs for its hub). */
  noCluster?: boolean;
}

export class ShellSession implements SessionControl, RoutedSession {
  readonly interactive: boolean;
  readonly columns?: number;
  private attached?: number;
  private readonly following = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly noCluster: boolean;
  /** A session on another machine this one is attached to or following through (cluster hub). */
  private remote?: { shell: RemoteShell; following: boolean };
  private readonly onOutput = (id: number, stream: StreamName, chunk: string, lines: OutputLine[]) => {
    if (id === this.attached || this.following.has(id)) this.sink.output({ id, stream, chunk, lines });
  };
  private readonly onState = (info: AppInfo) => {
    if (info.state === 'registered') this.sink.event?.({ event: 'registered', app: info, text: `${info.id} (${info.name}) registered` });
  };
  private readonly onExit = (info: AppInfo) => {
    const restarting = info.state === 'restarting';
    let text = `${info.id} (${info.name}) ${describeExit(info)}${restarting ? '; restarting' : ''}`;
    if (info.state === 'fatal') {
      const last = info.lastLines?.length ? `; its last lines:\n  ${info.lastLines.join('\n  ')}` : '';
      text += `; ${info.error} (fatal: "restart ${info.id}" tries again)${last}`;
    }
    this.sink.event?.({ event: restarting ? 'restarting' : info.state === 'fatal' ? 'fatal' : 'exit', app: info, text });
    if (!restarting && info.id === this.attached) this.setAttached(undefined);
  };

  constructor(
    private readonly engine: Engine,
    private readonly sink: SessionSink,
    opts: SessionOptions = { interactive: true },
  ) {
    this.interactive = opts.interactive;
    this.columns = opts.columns;
    this.noCluster = opts.noCluster === true;
    engine.on('output', this.onOutput);
    engine.on('state', this.onState);
    engine.on('exit', this.onExit);
  }

  get attachedId(): number | undefined {
    return this.attached;
  }

  get isFollowing(): boolean {
    return this.following.size > 0 || this.remote?.following === true;
  }

  /** Queues a line; resolves with its result once it (and every line before it) ran. */
  submit(line: string): Promise<CommandResult | undefined> {
    const run = this.queue.then(() => this.runLine(line));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Stops attach and follow (Ctrl+Z). */
  detach(): CommandResult {
    if (this.remote) {
      // Closing the far session detaches it there.
      const { shell } = this.remote;
      const was = this.attached;
      this.dropRemote();
      const what = was !== undefined ? `detached from ${shell.machine}:${was}` : `stopped following on ${shell.machine}`;
      return { ok: true, command: 'detach', text: what, data: { machine: shell.machine, id: was } };
    }
    const was = this.attached;
    const followed = [...this.following];
    this.following.clear();
    this.setAttached(undefined);
    if (was === undefined && !followed.length) return fail('detach', 'not attached to any app');
    const what = was !== undefined ? `detached from ${was}` : `stopped following ${followed.join(', ')}`;
    return { ok: true, command: 'detach', text: what, data: { id: was, followed } };
  }

  attach(id: number): void {
    this.setAttached(id);
  }

  follow(id: number): void {
    this.following.add(id);
  }

  useRemote(shell: RemoteShell, answer: RemoteAnswer): void {
    this.remote = { shell, following: answer.following };
    this.setAttached(answer.attached ?? undefined);
  }

  remoteOutput(machine: string, o: RemoteOutput): void {
    if (this.remote?.shell.machine === machine) this.sink.output({ ...o, machine });
  }

  remoteEvent(machine: string, e: { event: AppEvent['event']; text: string; app: Record<string, unknown> }): void {
    this.sink.event?.({ event: e.event, text: `${machine}: ${e.text}`, app: e.app as unknown as AppInfo, machine });
  }

  remoteInfo(machine: string, text: string): void {
    this.sink.info?.(`${machine}: ${text}`);
  }

  remoteAttach(machine: string, attached: number | null): void {
    if (this.remote?.shell.machine !== machine) return;
    if (attached === null && !this.remote.following) this.dropRemote();
    else this.setAttached(attached ?? undefined);
  }

  private dropRemote(): void {
    this.remote?.shell.close();
    this.remote = undefined;
    this.setAttached(undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.remote?.shell.close();
    this.remote = undefined;
    this.engine.off('output', this.onOutput);
    this.engine.off('state', this.onState);
    this.engine.off('exit', this.onExit);
  }

  /** Tab completion in readline's shape: [candidates, the word being completed]. */
  complete(line: string): [string[], string] {
    const m = /(\S*)$/.exec(line);
    const word = m ? m[1] : '';
    const before = line.slice(0, line.length - word.length).trim();
    let candidates: string[];
    if (this.attached !== undefined) candidates = [];
    else if (!before) candidates = commandWords();
    else {
      const words = before.split(/\s+/);
      const cmd = findCommand(words[0]);
      const position = words.length; // 1 = first argument
      const argWords = words.slice(1).filter((w) => w !== '-a');
      if (!cmd || argWords.length > 0) candidates = [];
      else if (cmd.arg === 'app') {
        candidates = [...this.engine.config.apps.keys()];
        if (cmd.name === 'help') candidates.push(...COMMANDS.map((c) => c.name));
        if (cmd.name === 'start' && position === 1) candidates.push('-a');
      } else if (cmd.arg === 'id') {
        // Ids in numeric order, then the names of started apps (every id-taking command takes a name too),
        // then on a cluster hub its machines as `MACHINE:`.
        const list = this.engine.supervisor.list();
        const hits = list.map((a) => String(a.id)).filter((c) => c.startsWith(word));
        const names = [...new Set(list.map((a) => a.name)), 'all'].filter((c) => c.startsWith(word)).sort();
        const machines = this.noCluster ? [] : (this.engine.cluster?.machineNames() ?? []).map((m) => `${m}:`).filter((c) => c.startsWith(word));
        return [[...hits, ...names, ...machines], word];
      } else candidates = [];
    }
    const hits = candidates.filter((c) => c.startsWith(word)).sort();
    return [hits, word];
  }

  private setAttached(id: number | undefined): void {
    if (this.attached === id) return;
    this.attached = id;
    this.sink.attachChanged?.(id);
  }

  private async runLine(line: string): Promise<CommandResult | undefined> {
    if (this.closed) return undefined;
    if (line.includes(DETACH_CHAR)) {
      const r = this.detach();
      this.sink.result(r);
      return r;
    }
    if (this.remote) {
      // Attached or following on another machine: the line goes there.
      const { shell } = this.remote;
      let answer: RemoteAnswer;
      try {
        answer = await shell.submit(line);
      } catch (err) {
        this.dropRemote();
        const r = fail('attach', `${shell.machine}: ${(err as Error).message}; detached`);
        this.sink.result(r);
        return r;
      }
      if (answer.attached === null && !answer.following) this.dropRemote();
      else this.remote.following = answer.following;
      if (!answer.result) return undefined;
      const r = { ...answer.result, machine: shell.machine };
      this.sink.result(r);
      return r;
    }
    if (this.attached !== undefined) {
      // Attached: the line belongs to the app, not to the shell.
      try {
        this.engine.supervisor.write(this.attached, line + '\n');
        return undefined;
      } catch (err) {
        this.setAttached(undefined);
        const r = fail('attach', `${(err as Error).message}; detached`);
        this.sink.result(r);
        return r;
      }
    }
    const settings = this.engine.config.settings;
    if (settings.verboseInput) this.sink.info?.(`input: ${JSON.stringify(line)}`);
    let result: CommandResult;
    let words: string[];
    try {
      words = tokenize(line);
    } catch (err) {
      result = fail('', `cannot parse the line: ${(err as ParseError).message}`);
      this.sink.result(result);
      return result;
    }
    if (settings.verifyParsingByPrinting) this.sink.info?.(`parsed: ${JSON.stringify(words)}`);
    if (!words.length) return undefined;
    const [name, ...args] = words;
    const cmd = findCommand(name);
    const routed = this.noCluster ? undefined : this.engine.cluster?.route(words, this);
    if (routed) {
      try {
        result = await routed;
      } catch (err) {
        result = errorResult(cmd?.name ?? name, err);
      }
    } else if (!cmd) {
      result = fail('', `unknown command "${name}" (type "help" for the list)`);
    } else {
      try {
        result = await cmd.run({ engine: this.engine, session: this }, args);
      } catch (err) {
        result = errorResult(cmd.name, err);
      }
    }
    this.sink.result(result);
    return result;
  }
}
