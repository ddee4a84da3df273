// `skywire node ...`: runs a mesh node, or talks to a running one through its local API
// (`skywire node status`, `skywire node transports add|rm|ls`).
import { Command, InvalidArgumentError } from 'commander';
import { formatBytes, table } from '../util/text-table.js';
import { parseCommandLine } from './usage.js';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { loadOrCreateKeyFile, parsePublicKey, pkToHex, shortPk } from '../net/keys.js';
import { parseMessengerAddress } from '../messenger/address.js';
import { Node } from '../node/node.js';
import { apiRequest, resolveApi } from '../node/sdk/client.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';
import { parseNodeName } from '../util/node-name.js';
import { capYoungGeneration } from '../util/young-gen.js';
import { splitVpnArgs } from './vpn-in-node-args.js';

const VPN_IN_NODE_HELP = `
A VPN endpoint inside this node's process (Linux, CAP_NET_ADMIN; docs/vpn.md, "Inside the node"):
  --vpn-server [vpn-server options]         everything after it is the vpn-server's (skywire node --vpn-server --help)
  --vpn-client SERVER [vpn-client options]  everything after it is the vpn-client's (skywire node --vpn-client --help)`;

function hostPort(v: string): { host: string; port: number } {
  try {
    return parseHostPort(v, '127.0.0.1');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function pk(v: string): string {
  try {
    return pkToHex(parsePublicKey(v));
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function nodeName(v: string): string {
  try {
    return parseNodeName(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function messenger(v: string): { pk: Buffer; host: string; port: number } {
  try {
    return parseMessengerAddress(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const collect =
  <T>(parse: (v: string) => T) =>
  (v: string, prev: T[] = []): T[] => [...prev, parse(v)];

function int(name: string, min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(v);
  };
}

function parse(program: Command, argv: string[]): number | undefined {
  program.exitOverride().configureOutput({
    writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `${program.name()}: ${s}` : s),
  });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  return undefined;
}

/** The API file a node with this key file writes by default. */
export function defaultApiFile(keyFile: string): string {
  return `${keyFile.replace(/\.json$/, '')}.api.json`;
}

function apiOf(o: { apiFile?: string; key?: string }): { api: string; token: string } {
  return resolveApi({ apiFile: o.apiFile ?? (o.key ? defaultApiFile(o.key) : undefined) });
}

async function runNode(fullArgv: string[]): Promise<number> {
  const { nodeArgv: argv, vpn: vpnArgs } = splitVpnArgs(fullArgv);
  // `skywire node --vpn-client --help`: the VPN part's help, without the node's required options.
  // The VPN's code is loaded only for a node that runs one.
  const vpnModule = vpnArgs ? await import('./vpn-in-node.js') : undefined;
  if (vpnArgs && vpnArgs.argv.some((a) => a === '--help' || a === '-h')) return vpnModule!.prepareVpnInNode(vpnArgs.kind, vpnArgs.argv) as number;
  const program = new Command('skywire node')
    .description('run a mesh node: transports to peers, routing, and the local app API')
    .requiredOption('-k, --key <file>', 'key pair file (created with mode 0600 if missing)')
    .requiredOption('-m, --messenger <PK@HOST:PORT>', 'messenger to register with (repeatable)', collect(messenger))
    .option('--manager <PK>', 'public key of a trusted node manager (repeatable)', collect(pk), [])
    .option('-l, --listen <host:port>', 'where to accept direct transports (default 127.0.0.1:0)', hostPort)
    .option('--no-listen', 'accept relayed transports only')
    .option('--announce <host:port>', 'address to announce for direct transports (default: the listen address)')
    .option('--name <name>', 'a name for this node, announced beside its key and shown on the dashboard (at most 32 characters)', nodeName)
    .option('--api <host:port>', 'local app API address, loopback (default 127.0.0.1:0)', hostPort)
    .option('--api-file <file>', 'where to write {"api","token","pk"} for apps and the CLI (mode 0600; default <key>.api.json)')
    .option('--connect <PK>', 'keep a transport to this node (repeatable)', collect(pk), [])
    .option('--auto-connect', 'keep transports to the nodes the messenger knows', false)
    .option('--route-idle <ms>', 'idle expiry of routing rules', int('--route-idle', 100), 30_000)
    .option('--relay-only', 'dial peers through the messenger relay even when they announce an address', false)
    .option('--retry-fast <n>', 'failed tries to reach a wanted peer with a quick backoff (200 ms to 5 s)', int('--retry-fast', 0), 10)
    .option('--retry-slow <ms>', 'then one try per this interval', int('--retry-slow', 1000), 300_000)
    .option('--metering-dir <dir>', 'the bandwidth receipts ledger (default <key>.metering)')
    .option('--metering', 'sign and keep bandwidth receipts with each neighbour (off by default: signing costs throughput, see docs/metering.md)', false)
    .option('--json', 'print {"pk","api","apiFile","listen","addresses"} as one JSON line on start', false)
    .addHelpText('after', VPN_IN_NODE_HELP);
  const code = parse(program, argv);
  if (code !== undefined) return code;
  // The VPN part is parsed (and its privileges checked) before the node starts: a usage error costs nothing.
  const vpn = vpnArgs ? vpnModule!.prepareVpnInNode(vpnArgs.kind, vpnArgs.argv) : undefined;
  if (typeof vpn === 'number') return vpn;
  const o = program.opts<{
    key: string;
    messenger: Array<{ pk: Buffer; host: string; port: number }>;
    manager: string[];
    listen?: { host: string; port: number } | false;
    announce?: string;
    name?: string;
    api?: { host: string; port: number };
    apiFile?: string;
    connect: string[];
    autoConnect: boolean;
    routeIdle: number;
    relayOnly: boolean;
    retryFast: number;
    retrySlow: number;
    meteringDir?: string;
    metering: boolean;
    json: boolean;
  }>();
  if (!o.manager.length) console.error('skywire node: warning: no --manager given; this node can forward nothing and dial nobody');
  let key;
  try {
    key = loadOrCreateKeyFile(o.key);
  } catch (err) {
    console.error(`skywire node: ${(err as Error).message}`);
    return 1;
  }
  installSignalHandlers();
  // Memory under load (docs/node.md, Performance); SKYWIRE_NODE_YOUNG_GEN=default turns it off.
  capYoungGeneration('SKYWIRE_NODE_YOUNG_GEN');
  const node = new Node({
    localKey: key,
    messengers: o.messenger,
    managers: o.manager,
    listen: o.listen === false ? null : (o.listen ?? { host: '127.0.0.1', port: 0 }),
    announceAddress: o.announce,
    ...(o.name !== undefined ? { name: o.name } : {}),
    api: o.api ?? { host: '127.0.0.1', port: 0 },
    connect: o.connect,
    autoConnect: o.autoConnect,
    routeIdleMs: o.routeIdle,
    relayOnly: o.relayOnly,
    retry: { fastTries: o.retryFast, slowMs: o.retrySlow },
    metering: o.metering && { dir: o.meteringDir ?? `${o.key.replace(/\.json$/, '')}.metering` },
  });
  onShutdown(() => node.close());
  // start() waits for a messenger; say so if that takes a while, rather than sit silent.
  const waiting = setTimeout(
    () => console.error(`skywire node: waiting for a messenger (${o.messenger.map((m) => `${m.host}:${m.port}`).join(', ')})...`),
    3000,
  );
  try {
    await node.start();
  } catch (err) {
    console.error(`skywire node: ${(err as Error).message}`);
    await node.close().catch(() => {});
    return 1;
  } finally {
    clearTimeout(waiting);
  }
  const apiFile = o.apiFile ?? defaultApiFile(o.key);
  const api = formatHostPort(node.apiAddress!);
  writeFileSync(apiFile, JSON.stringify({ api, token: node.api.token, pk: node.pkHex }) + '\n', { mode: 0o600 });
  chmodSync(apiFile, 0o600);
  onShutdown(() => rmSync(apiFile, { force: true }));
  startSignalClientFromEnv();
  const listen = node.listenAddress ? formatHostPort(node.listenAddress) : null;
  // What others dial (never a wildcard such as 0.0.0.0); the messenger's observed address joins it later.
  const addresses = node.announcedAddresses;
  if (o.json) console.log(JSON.stringify({ pk: node.pkHex, api, apiFile, listen, addresses }));
  else {
    console.log(`node public key: ${node.pkHex}`);
    console.log(`transports: ${listen ? addresses.join(', ') : 'relayed only'}; app API: ${api} (token in ${apiFile})`);
  }
  return vpn ? vpn.start(node) : 0;
}

interface TransportRow {
  pk: string;
  kind: string;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

interface PendingRow {
  pk: string;
  state: string;
  failures: number;
  lastError: string;
  nextTryInMs?: number;
}

/** Wanted peers without a transport, and when the node tries them next. */
function printPending(list: PendingRow[] | undefined): void {
  for (const p of list ?? []) {
    const next = p.nextTryInMs === undefined ? '' : `, next try in ${(p.nextTryInMs / 1000).toFixed(1)} s`;
    const why = p.lastError ? `: ${p.lastError}` : '';
    console.log(`waiting for ${p.pk}: ${p.state} (${p.failures} failed${next})${why}`);
  }
}

function printTransports(list: TransportRow[]): void {
  if (!list.length) {
    console.log('no transports');
    return;
  }
  const rows = list.map((t) => [t.pk, t.kind, `${t.latencyMs.toFixed(2)} ms`, formatBytes(t.bytesIn), formatBytes(t.bytesOut)]);
  console.log(table(['PEER', 'KIND', 'LATENCY', 'IN', 'OUT'], rows));
}

async function runStatus(argv: string[]): Promise<number> {
  const program = new Command('skywire node status')
    .description('show a running node: transports, routing rules with bytes per hop, streams, apps')
    .option('--api-file <file>', 'the node API file (default from --key, or SKYWIRE_APP_API_FILE)')
    .option('-k, --key <file>', 'the key file of the node (its API file is <key>.api.json)')
    .option('--json', 'print the status as JSON', false);
  const code = parse(program, argv);
  if (code !== undefined) return code;
  const o = program.opts<{ apiFile?: string; key?: string; json: boolean }>();
  const { api, token } = apiOf(o);
  const { sock, reply } = await apiRequest(api, { op: 'status', token });
  sock.destroy();
  const s = reply.status as {
    pk: string;
    listen: string | null;
    managers: string[];
    transports: TransportRow[];
    rules: Array<{ id: number; kind: string; route: string; nextPk?: string; nextRouteId?: number; bytesIn: number; bytesOut: number }>;
    streams: Array<{ route: string; remotePk: string; remotePort: number; localPort: number; initiator: boolean; repairs?: number }>;
    apps: Array<{ name: string; port: number }>;
    pending?: PendingRow[];
    dropped: Record<string, number>;
  };
  if (o.json) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  console.log(`node ${s.pk}`);
  console.log(`listen: ${s.listen ?? 'relayed only'}; managers: ${s.managers.map(shortPk).join(', ') || 'none connected'}`);
  console.log(`apps: ${s.apps.map((a) => `${a.name}:${a.port}`).join(', ') || 'none'}`);
  console.log('');
  printTransports(s.transports);
  printPending(s.pending);
  console.log('');
  if (!s.rules.length) console.log('no routing rules');
  else {
    const rows = s.rules.map((r) => [
      String(r.id),
      r.kind,
      r.route,
      r.nextPk ? `${shortPk(r.nextPk)}:${r.nextRouteId}` : '-',
      formatBytes(r.bytesIn),
      formatBytes(r.bytesOut),
    ]);
    console.log(table(['ROUTE ID', 'KIND', 'ROUTE', 'NEXT HOP', 'IN', 'OUT'], rows));
  }
  if (s.streams.length) {
    console.log('');
    for (const st of s.streams) {
      const moved = st.repairs ? ` (moved to a new path ${st.repairs}x)` : '';
      console.log(`stream ${st.route}: port ${st.localPort} ${st.initiator ? '->' : '<-'} ${shortPk(st.remotePk)}:${st.remotePort}${moved}`);
    }
  }
  console.log('');
  console.log(`dropped: ${Object.entries(s.dropped).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return 0;
}

async function runTransports(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const help = [
    'Usage: skywire node transports add|rm|ls [PK] [--api-file FILE | -k FILE] [--json]',
    '',
    "Adds, removes or lists a running node's transports (direct encrypted links to peer nodes).",
    '',
    'Options:',
    '  --api-file <file>  the node API file (default from --key, or SKYWIRE_APP_API_FILE)',
    '  -k, --key <file>   the key file of the node (its API file is <key>.api.json)',
    '  --json             print JSON',
    '',
    'Examples:',
    '  skywire node transports ls -k .demo/keys/a.json',
    '  skywire node transports add 02ab...(66 hex) -k .demo/keys/a.json',
    '  skywire node transports rm 02ab...(66 hex) --api-file .demo/keys/a.api.json',
  ].join('\n');
  if (action === '--help' || action === '-h') {
    console.log(help);
    return 0;
  }
  if (!action || !['add', 'rm', 'ls'].includes(action)) {
    console.error(`skywire node transports: ${action ? `unknown action "${action}"` : 'missing action'}\n\n${help}`);
    return 2;
  }
  const program = new Command(`skywire node transports ${action}`)
    .option('--api-file <file>', 'the node API file (default from --key, or SKYWIRE_APP_API_FILE)')
    .option('-k, --key <file>', 'the key file of the node (its API file is <key>.api.json)')
    .option('--json', 'print JSON', false)
    .argument(action === 'ls' ? '[PK]' : '<PK>', 'public key of the peer node');
  const code = parse(program, rest);
  if (code !== undefined) return code;
  const o = program.opts<{ apiFile?: string; key?: string; json: boolean }>();
  const peer = program.args[0];
  if (action !== 'ls') {
    try {
      parsePublicKey(peer);
    } catch (err) {
      console.error(`skywire node transports: ${(err as Error).message}`);
      return 2;
    }
  }
  const { api, token } = apiOf(o);
  const { sock, reply } = await apiRequest(api, { op: 'transports', token, action, pk: peer });
  sock.destroy();
  const list = reply.transports as TransportRow[];
  if (o.json) console.log(JSON.stringify(list));
  else {
    if (action === 'add') console.log(`transport to ${shortPk(peer)} is up`);
    if (action === 'rm') console.log(`transport to ${shortPk(peer)} removed`);
    printTransports(list);
    printPending(reply.pending as PendingRow[] | undefined);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'status') return await runStatus(argv.slice(1));
    if (argv[0] === 'transports') return await runTransports(argv.slice(1));
    return await runNode(argv);
  } catch (err) {
    console.error(`skywire node: ${(err as Error).message}`);
    return 1;
  }
}
