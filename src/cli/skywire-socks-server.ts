// `skywire socks-server`: the SOCKS exit. Registers a mesh port with its node, announces service "socks",
// and for each incoming stream connects to the requested target itself (names resolved here), refusing
// loopback/private/link-local destinations unless --allow permits them. Also exports the option handling
// that `skywire socks-client` shares.
import { Command } from 'commander';
import type { AppClient } from '../node/sdk/index.js';
import { onShutdown, shutdown } from '../util/lifecycle.js';
import { createLogger } from '../util/log.js';
import { parsePublicKey, pkToHex } from '../net/keys.js';
import { DEFAULT_MESH_PORT, parseAllowOption, startSocksServerApp } from '../apps/socks/index.js';
import { addAppApiOptions, collect, connectApp, intOption, parseArgs } from './app-command.js';

interface ServerOpts {
  json: boolean;
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
    .option('--allow <CIDR>', 'also permit these destinations (repeatable), e.g. 192.168.1.0/24, ::1/128, or one port: 127.0.0.1:7180', collect, [])
    .option('--clients <PK,...>', 'only these client keys may use this exit (repeatable)', collect, [])
    .option('--connect-timeout <ms>', 'time allowed to resolve and connect to a target', '10000')
    .option('--json', 'print the ready line as one JSON object', false);
  const code = parseArgs(program, argv, 'socks-server');
  if (code !== undefined) return code;
  const o = program.opts<ServerOpts>();
  let port: number;
  let allow;
  let clients: string[];
  let connectTimeoutMs: number;
  try {
    port = intOption(o.port, '--port', 1, 65535);
    allow = o.allow.map(parseAllowOption);
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
  if (o.json) console.log(JSON.stringify({ type: 'ready', port, pk: app.localPk, allow: allow.map((a) => a.text), clients: clients.length || 'any' }));
  else {
    console.log(`socks-server: serving mesh port ${port} on node ${app.localPk}`);
    console.log(
      `socks-server: destinations allowed: public addresses${allow.length ? ` + ${allow.map((a) => a.text).join(', ')}` : ''}; ` +
        `clients: ${clients.length ? clients.length + ' listed keys' : 'any'}`,
    );
  }
  await new Promise<never>(() => {}); // runs until SIGINT/SIGTERM or a signal SHUTDOWN
  return 0;
}
