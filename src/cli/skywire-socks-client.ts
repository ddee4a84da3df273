// `skywire socks-client`: a local SOCKS5 proxy (default 127.0.0.1:1080) whose connections leave the mesh
// at a socks-server: a fixed one (--server PK[:PORT]) or any that announces service "socks" (--server auto).
import { Command } from 'commander';
import type { AppClient } from '../node/sdk/index.js';
import { onShutdown, shutdown } from '../util/lifecycle.js';
import { createLogger } from '../util/log.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { parsePublicKey, pkToHex } from '../net/keys.js';
import { DEFAULT_MESH_PORT, startSocksClientApp } from '../apps/socks/index.js';
import { addAppApiOptions, connectApp, intOption, parseArgs } from './app-command.js';

interface ClientOpts {
  json: boolean;
  api?: string;
  token?: string;
  apiFile?: string;
  name: string;
  listen: string;
  server: string;
  hops?: string;
  user?: string;
  pass?: string;
  handshakeTimeout: string;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** "auto", "PK" or "PK:PORT". */
export function parseServer(text: string): { pk: string; port: number } | undefined {
  if (text === 'auto') return undefined;
  const [pk, port, extra] = text.split(':');
  if (extra !== undefined) throw new Error(`--server "${text}" must be auto, PK or PK:PORT`);
  return {
    pk: pkToHex(parsePublicKey(pk)),
    port: port === undefined ? DEFAULT_MESH_PORT : intOption(port, '--server port', 1, 65535),
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = addAppApiOptions(
    new Command('skywire socks-client').description(
      'local SOCKS5 proxy (RFC 1928/1929) whose connections leave the mesh at a socks-server',
    ),
    'socks-client',
  )
    .option('--listen <HOST:PORT>', 'where local programs connect', '127.0.0.1:1080')
    .option('--server <PK[:PORT]|auto>', 'the socks-server to use, or auto (any announcing service "socks")', 'auto')
    .option('--hops <n>', 'route length in transport hops, e.g. 2 = via one intermediate node (default: shortest)')
    .option('--user <name>', 'require this SOCKS username (RFC 1929); needs --pass')
    .option('--pass <password>', 'the password for --user')
    .option('--handshake-timeout <ms>', 'time a local program has to complete the SOCKS handshake', '10000')
    .option('--json', 'print the ready line as one JSON object', false);
  const code = parseArgs(program, argv, 'socks-client');
  if (code !== undefined) return code;
  const o = program.opts<ClientOpts>();
  let listen;
  let server;
  let hops: number | undefined;
  let handshakeTimeoutMs: number;
  try {
    listen = parseHostPort(o.listen, '127.0.0.1');
    server = parseServer(o.server);
    hops = o.hops === undefined ? undefined : intOption(o.hops, '--hops', 0, 16);
    handshakeTimeoutMs = intOption(o.handshakeTimeout, '--handshake-timeout', 1);
    if ((o.user === undefined) !== (o.pass === undefined)) throw new Error('--user and --pass go together');
    if (o.user !== undefined && (Buffer.byteLength(o.user) > 255 || Buffer.byteLength(o.pass!) > 255)) {
      throw new Error('--user and --pass are at most 255 bytes each (RFC 1929)');
    }
  } catch (err) {
    console.error(`skywire socks-client: ${(err as Error).message}`);
    return 2;
  }
  const log = createLogger('socks-client');
  if (!isLoopback(listen.host) && o.user === undefined) {
    console.error(`skywire socks-client: warning: listening on ${listen.host} without --user/--pass: anyone who can reach it can use your exit`);
  }
  let app: AppClient;
  let address;
  try {
    app = await connectApp({ api: o.api, token: o.token, apiFile: o.apiFile, name: o.name });
    const started = await startSocksClientApp(app, {
      host: listen.host,
      port: listen.port,
      server,
      hops,
      auth: o.user !== undefined ? { user: o.user, pass: o.pass! } : undefined,
      handshakeTimeoutMs,
      log,
    });
    address = started.address;
    onShutdown(() => started.client.close());
  } catch (err) {
    console.error(`skywire socks-client: ${(err as Error).message}`);
    await shutdown(1); // also stops the signal client and app connection started so far
    return 1;
  }
  const via = server ? `socks-server ${server.pk.slice(0, 8)}… port ${server.port}` : 'any socks-server (auto)';
  if (o.json) console.log(JSON.stringify({ type: 'ready', socks: formatHostPort(address), server: server?.pk ?? 'auto', port: server?.port ?? null, hops: hops ?? null }));
  else console.log(`socks-client: SOCKS5 on ${formatHostPort(address)} -> ${via}${hops !== undefined ? `, ${hops} hops` : ''}`);
  log.info('listening', { address: formatHostPort(address), server: server?.pk ?? 'auto', hops });
  await new Promise<never>(() => {});
  return 0;
}
