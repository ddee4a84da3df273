// The engine is what every shell session shares: the config, the supervisor of apps and the signal server.
// One engine serves any number of sessions (the prompt, headless stdin, one-shot control connections and,
// later, browser terminals), each with its own attach state.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { SignalServer, type SignalClientInfo } from '../signal/server.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { createLogger } from '../util/log.js';
import type { OutputLine, StreamName } from './app-output.js';
import { ConfigError, loadConfig, type AppConfig, type ViscriptConfig } from './config.js';
import type { ClusterRouter } from './remote.js';
import type { RestartTiming } from './restart-policy.js';
import { cleanUpPreviousRun } from './run-record.js';
import { Supervisor, type AppInfo } from './supervisor.js';

export interface EngineOptions {
  config: ViscriptConfig;
  stateDir: string;
  /** Overrides settings.signalAddress (port 0 = any free port). */
  signalAddress?: string;
  restartTiming?: RestartTiming;
}

/**
 * Events: 'output' (id, stream, chunk, lines), 'state' (AppInfo), 'exit' (AppInfo), 'quit' (a session asked
 * Viscript to stop).
 */
export class Engine extends EventEmitter {
  readonly supervisor: Supervisor;
  readonly signal: SignalServer;
  /** Set when this Viscript is a cluster hub: lines naming other machines go through it. */
  cluster?: ClusterRouter;
  private closed?: Promise<void>;
  private readonly log = createLogger('viscript');

  private constructor(
    config: ViscriptConfig,
    readonly stateDir: string,
    signal: SignalServer,
    /** host:port where apps reach the signal server. */
    readonly signalAddress: string,
    restartTiming?: RestartTiming,
  ) {
    super();
    this.signal = signal;
    this.supervisor = new Supervisor({ config, stateDir, signal, signalAddress, restartTiming });
  }

  /** Listens for signal clients, then starts the apps marked `autostart`. */
  static async create(o: EngineOptions): Promise<Engine> {
    // A Viscript killed with SIGKILL could not stop its apps: the next one on its state dir does.
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    await cleanUpPreviousRun(o.stateDir, createLogger('viscript'));
    const { host, port } = parseHostPort(o.signalAddress ?? o.config.settings.signalAddress);
    const server = new SignalServer({ host, port, allowUntokened: o.config.settings.allowUntokened });
    let bound: { host: string; port: number };
    try {
      bound = await server.listen();
    } catch (err) {
      // The signal server names the errno in its message (it keeps no code): look at both.
      const e = err as NodeJS.ErrnoException;
      const inUse = e.code === 'EADDRINUSE' || /\bEADDRINUSE\b/.test(e.message);
      const why = inUse ? 'the address is in use (another Viscript?)' : e.message.replace(/^signal server: /, '');
      throw new Error(`cannot listen for signal clients on ${formatHostPort({ host, port })}: ${why}`, { cause: err });
    }
    const engine = new Engine(o.config, o.stateDir, server, formatHostPort(bound), o.restartTiming);
    server.on('register', (c: SignalClientInfo) => engine.supervisor.markRegistered(c.id, true, c.pid));
    server.on('unregister', (c: SignalClientInfo) => engine.supervisor.markRegistered(c.id, false, c.pid));
    engine.supervisor.on('output', (id: number, stream: StreamName, chunk: string, lines: OutputLine[]) =>
      engine.emit('output', id, stream, chunk, lines),
    );
    engine.supervisor.on('state', (info: AppInfo) => engine.emit('state', info));
    engine.supervisor.on('exit', (info: AppInfo) => engine.emit('exit', info));
    for (const app of o.config.apps.values()) {
      if (!app.autostart) continue;
      const info = await engine.supervisor.start(app.name);
      if (info.state === 'failed') engine.log.warn('autostart failed', { app: app.name, error: info.error });
    }
    return engine;
  }

  get config(): ViscriptConfig {
    return this.supervisor.config;
  }

  /**
   * Re-reads the config file. Running apps are left alone; a changed definition applies at the app's next
   * start. An invalid file changes nothing and throws a ConfigError naming the file, line and key.
   */
  reload(): { added: string[]; changed: string[]; removed: string[] } {
    const old = this.config;
    const next = loadConfig(old.file);
    if (!next.exists) throw new ConfigError(`${old.file}: no such file; the previous config stays in force`, old.file);
    const same = (a: AppConfig, b: AppConfig) => JSON.stringify(a) === JSON.stringify(b);
    const added = [...next.apps.keys()].filter((n) => !old.apps.has(n));
    const removed = [...old.apps.keys()].filter((n) => !next.apps.has(n));
    const changed = [...next.apps.keys()].filter((n) => old.apps.has(n) && !same(old.apps.get(n)!, next.apps.get(n)!));
    // Unchanged apps keep their old definition object, so their instances see no change.
    for (const n of next.apps.keys()) if (!changed.includes(n) && old.apps.has(n)) next.apps.set(n, old.apps.get(n)!);
    this.supervisor.setConfig(next);
    this.log.info('config reloaded', { file: next.file, added, changed, removed });
    return { added, changed, removed };
  }

  /** Asks the front end to stop Viscript, after the asking command's result has been written. */
  requestQuit(): void {
    setImmediate(() => this.emit('quit'));
  }

  /** Stops every app, then the signal server. Safe to call more than once. */
  close(graceMs?: number): Promise<void> {
    this.closed ??= (async () => {
      await this.supervisor.stopAll(graceMs);
      await this.signal.close();
    })();
    return this.closed;
  }
}
