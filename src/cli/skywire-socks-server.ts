// `skywire socks-server`: the SOCKS exit. Registers a mesh port with its node, announces service "socks",
// and for each incoming stream connects to the requested target itself (names resolved here), refusing
// loopback/private/link-local destinations unless --allow permits them. Also exports the option handling
// that `skywire socks-client` shares.
import { Command, CommanderError } from 'commander';
import { AppClient } from '../node/sdk/index.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { installSignalHandlers, onShutdown, shutdown } from '../util/lifecycle.js';
import { createLogger } from '../util/log.js';
import { parsePublicKey, pkToHex } from '../net/keys.js';
import { DEFAULT_MESH_PORT, parseCidr, startSocksServerApp } from '../apps/socks/index.js';

export const collect = (v: string, prev: string[]) => [...prev, v];

export function addAppApiOptions(program: Command, defaultName: string): Command {
  return program
    .option('--api <HOST:PORT>', "the node's local app API (default: $SKYWIRE_APP_API)")
    .option('--token <token>', 'app API token (default: $SKYWIRE_APP_TOKEN)')
    .option('--api-file <file>', 'JSON file {api, token} written by the node (default: $SKYWIRE_APP_API_FILE)')
    .option('--name <name>', 'app name registered with the node', defaultName);
}

/** Parses argv; returns the exit code on --help or a usage error, else undefined. */
export function parseArgs(program: Command, argv: string[], cmd: string): number | undefined {
  program
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire ${cmd}: ${s}` : s) });
  try {
    program.parse(argv, { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}

export function intOption(text: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${what} "${text}" must be an integer from ${min} to ${max}`);
  return n;
}

/** Connects to the node's app API, with signal-client and SIGINT/SIGTERM handling set up first. */
export async function connectApp(o: {
  api?: string;
  token?: string;
  apiFile?: string;
  name: string;
  port?: number;
}): Promise<AppClient> {
  installSignalHandlers();
  startSignalClientFromEnv();
  // The SDK falls back to SKYWIRE_APP_API / SKYWIRE_APP_TOKEN / SKYWIRE_APP_API_FILE.
  const app = await AppClient.connect({ api: o.api, token: o.token, apiFile: o.apiFile, name: o.name, port: o.port });
  onShutdown(() => app.close());
  return app;
}

interface ServerOpts {
  api?: string;
  token?: string;
  apiFile?: string;
  name: string;
  port: string;
  allow: string[];
  clients: string[];
  connectTimeout: string;
}

export async function main(argv: string[]): Promise<number> {
  const program = addAppApiOptions(
    new Command('skywire socks-server').description(
      'SOCKS exit over the mesh: serves the streams socks-clients open to it, announced as service "socks"',
    ),
    'socks-server',
  )
    .option('--port <n>', 'mesh port to register', String(DEFAULT_MESH_PORT))
    .option('--allow <CIDR>', 'also permit these destinations (repeatable), e.g. 192.168.1.0/24 or ::1/128', collect, [])
    .option('--clients <PK,...>', 'only these client keys may use this exit (repeatable)', collect, [])
    .option('--connect-timeout <ms>', 'time allowed to resolve and connect to a target', '10000');
  const code = parseArgs(program, argv, 'socks-server');
  if (code !== undefined) return code;
  const o = program.opts<ServerOpts>();
  let port: number;
  let allow;
  let clients: string[];
  let connectTimeoutMs: number;
  try {
    port = intOption(o.port, '--port', 1, 65535);
    allow = o.allow.map(parseCidr);
    clients = o.clients
      .flatMap((c) => c.split(','))
      .map((c) => c.trim())
      .filter(Boolean)
      .map((c) => pkToHex(parsePublicKey(c)));
    connectTimeoutMs = intOption(o.connectTimeout, '--connect-timeout', 1);
  } catch (err) {
    console.error(`skywire socks-server: ${(err as Error).message}`);
    return 2;
  }
  const log = createLogger('socks-server');
  let app: AppClient;
  try {
    app = await connectApp({ api: o.api, token: o.token, apiFile: o.apiFile, name: o.name, port });
    const exit = await startSocksServerApp(app, { allow, clients, connectTimeoutMs, log });
    onShutdown(() => exit.close());
  } catch (err) {
    console.error(`skywire socks-server: ${(err as Error).message}`);
    await shutdown(1); // also stops the signal client and app connection started so far
    return 1;
  }
  log.info('serving', { port, allow: o.allow, clients: clients.length || 'any' });
  console.log(`socks-server: serving mesh port ${port} on node ${app.localPk}`);
  console.log(
    `socks-server: destinations allowed: public addresses${allow.length ? ` + ${allow.map((a) => a.text).join(', ')}` : ''}; ` +
      `clients: ${clients.length ? clients.length + ' listed keys' : 'any'}`,
  );
  await new Promise<never>(() => {}); // runs until SIGINT/SIGTERM or a signal SHUTDOWN
  return 0;
}
