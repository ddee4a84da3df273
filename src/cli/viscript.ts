#!/usr/bin/env node
// `viscript`: the launcher. Loads config.yaml, serves signal clients, runs the shell as an interactive prompt
// or headless on stdin, and answers one-shot `viscript -c "<command>"` calls through its control socket.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { packageVersion } from '../util/package-version.js';
import { parseCommandLine } from './usage.js';
import { installSignalHandlers, onShutdown, shutdown } from '../util/lifecycle.js';
import { startCluster } from '../viscript/cluster/index.js';
import { ConfigError, loadConfig } from '../viscript/config.js';
import { ControlServer, isRunning, readControlInfo, sendControlCommand, type ControlMessage } from '../viscript/control.js';
import { Engine } from '../viscript/engine.js';
import { stampedLine } from '../viscript/format.js';
import { runHeadless } from '../viscript/headless.js';
import { runPrompt } from '../viscript/prompt.js';

interface Options {
  config: string;
  stateDir?: string;
  headless?: boolean;
  json?: boolean;
  exitOnEof?: boolean;
  command?: string;
  signalAddress?: string;
  gui?: string | boolean;
}

function program(): Command {
  return new Command('viscript')
    .description('Application launcher and signal server: start, watch and stop the apps of config.yaml')
    .option('--config <path>', 'the config file (a missing file means no apps)', 'config.yaml')
    .option('--state-dir <dir>', 'logs, history and the control socket file (default: .viscript beside the config)')
    .option('--headless', 'read commands from stdin instead of an interactive prompt (also when stdin is not a terminal)')
    .option('--json', 'headless and -c: print one JSON object per line')
    .option('--exit-on-eof', 'headless: stop every app and exit when stdin ends (default: keep running)')
    .option('-c, --command <line>', 'run one command in the Viscript already running with this state dir, then exit')
    .option('--signal-address <host:port>', 'where to listen for signal clients (overrides settings.signalAddress; port 0 = any)')
    .option('--gui [host:port]', 'also serve the Viscript desktop to a browser (default 127.0.0.1, any free port)')
    .addHelpText(
      'after',
      '\nExamples:\n  viscript --config examples/config.yaml\n  viscript --config examples/config.yaml -c "la"\n' +
        '  printf "s ticker\\nla\\n" | viscript --headless --json --config examples/config.yaml\n' +
        '  viscript --config hub.yaml -c "la @all"        # a cluster hub: every app of every machine\n' +
        '  viscript --config hub.yaml -c "ping m2:ticker" # any command on another machine (docs/cluster.md)\n' +
        '\nType "help" at the prompt for the commands.',
    )
    .version(packageVersion(), '-V, --version', 'the version of this program')
    .showHelpAfterError('(run "viscript --help" for the options)');
}

export async function main(argv: string[]): Promise<number> {
  const cmd = program();
  const usage = parseCommandLine(cmd, argv);
  if (usage !== undefined) return usage;
  const opts = cmd.opts<Options>();
  const configPath = resolve(opts.config);
  const stateDir = resolve(opts.stateDir ?? join(dirname(configPath), '.viscript'));

  if (opts.command !== undefined) {
    // With neither --config nor --state-dir, a demo started from here (`npm start`, `skywire demo`) counts too.
    const implicit = cmd.getOptionValueSource('config') === 'default' && opts.stateDir === undefined;
    return oneShot(implicit ? findStateDir(stateDir) : stateDir, opts.command, opts.json === true);
  }

  // Only the default ./config.yaml may be missing (then there are no apps): a named file that is not there is
  // a typo, and starting with nothing would hide it.
  if (cmd.getOptionValueSource('config') !== 'default' && !existsSync(configPath)) {
    process.stderr.write(`viscript: --config ${opts.config}: no such file (${configPath})\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`viscript: invalid config: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const other = await isRunning(stateDir);
  if (other) {
    process.stderr.write(`viscript: a Viscript (pid ${other.pid}) already runs with state dir ${stateDir}; use -c "<command>" to talk to it\n`);
    return 1;
  }
  const engine = await Engine.create({ config, stateDir, signalAddress: opts.signalAddress });
  process.on('exit', () => engine.supervisor.killAllNow()); // last resort, whatever way Viscript ends
  let cluster;
  try {
    cluster = config.cluster ? startCluster(engine, config.cluster) : undefined;
  } catch (err) {
    process.stderr.write(`viscript: invalid config: ${config.file}: ${(err as Error).message}\n`);
    await engine.close(0);
    return 2;
  }
  const control = await ControlServer.start(engine, stateDir);
  installSignalHandlers();
  // Within the 5 s every shutdown hook gets: the signal SHUTDOWN, then SIGTERM, then SIGKILL.
  const grace = Math.min(config.settings.shutdownGraceMs, 1500);
  onShutdown(async () => {
    await cluster?.close();
    await control.close();
    await engine.close(grace);
  });
  // A closed terminal (SIGHUP) must not leave the apps running, which are in their own process groups.
  process.on('SIGHUP', () => void shutdown(0));
  engine.on('quit', () => void shutdown(0));

  const headless = opts.headless === true || config.settings.runHeadless || !process.stdin.isTTY;
  let guiUrl: string | undefined;
  if (opts.gui !== undefined && opts.gui !== false) {
    // Loaded only when asked for; in --json mode its URL goes into the ready line, not as free text.
    const { runDesktop } = await import('../viscript/gui/index.js');
    const quiet = { write: () => true };
    const gui = await runDesktop(engine, typeof opts.gui === 'string' ? opts.gui : undefined, opts.json ? quiet : process.stdout);
    guiUrl = gui.url;
  }
  const notes = [
    config.exists ? `${config.apps.size} app(s) in ${config.file}` : `no config file at ${config.file}: starting with no apps`,
    `signal server on ${engine.signalAddress}`,
    `control file ${control.file}`,
    engine.supervisor.containment === 'cgroup' ? 'each app in its own cgroup' : 'each app in its own process group (no cgroup v2 here)',
  ];
  if (cluster) {
    const roles = [cluster.agent ? `agent of ${config.cluster!.hubs.length} hub(s)` : '', cluster.hub ? `hub of ${config.cluster!.machines.size} machine(s)` : '']
      .filter(Boolean)
      .join(' and ');
    notes.push(`cluster key ${cluster.publicKey}${roles ? `, ${roles}` : ''}`);
  }
  if (headless) {
    const { sink } = runHeadless(engine, {
      json: opts.json === true,
      exitOnEof: opts.exitOnEof === true,
      input: process.stdin,
      output: process.stdout,
    });
    if (opts.json) {
      process.stdout.write(
        JSON.stringify({
          type: 'ready',
          pid: process.pid,
          signalAddress: engine.signalAddress,
          controlFile: control.file,
          stateDir,
          config: config.file,
          configExists: config.exists,
          apps: [...config.apps.keys()],
          containment: engine.supervisor.containment,
          ...(guiUrl ? { guiUrl } : {}),
          ...(cluster ? { clusterKey: cluster.publicKey } : {}),
        }) + '\n',
      );
    } else sink.info?.(notes.join('; '));
  } else {
    process.stdout.write(`Viscript: ${notes.join('; ')}. Type "help" for commands.\n`);
    runPrompt(engine, { historyFile: join(stateDir, 'history') });
  }
  return 0;
}

/** The default state dir when a Viscript uses it, else the demo's (`.demo/viscript`) when that one exists. */
function findStateDir(defaultDir: string): string {
  const demo = resolve('.demo', 'viscript');
  if (existsSync(join(defaultDir, 'control.json')) || !existsSync(join(demo, 'control.json'))) return defaultDir;
  return demo;
}

async function oneShot(stateDir: string, line: string, json: boolean): Promise<number> {
  try {
    const info = readControlInfo(stateDir);
    const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
    const ok = await sendControlCommand(info, line, (m: ControlMessage) => {
      if (json) return void process.stdout.write(JSON.stringify(m) + '\n');
      if (m.type === 'result') {
        if (m.ok) {
          if (m.text) process.stdout.write(m.text + '\n');
        } else process.stderr.write(`viscript: ${m.text}\n`);
      } else if (m.type === 'output') {
        const t = typeof m.t === 'number' ? m.t : Date.now();
        process.stdout.write(`${stampedLine({ stream: 'stdout', text: String(m.text ?? ''), t })}\n`);
      }
      else if (m.text) process.stdout.write(`[viscript] ${m.text}\n`);
    }, columns);
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`viscript: ${(err as Error).message}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0) process.exit(code);
    },
    (err: Error) => {
      process.stderr.write(`viscript: ${err.message}\n`);
      process.exit(1);
    },
  );
}
