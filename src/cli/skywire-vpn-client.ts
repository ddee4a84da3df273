// `skywire vpn-client <server-key|auto>`: brings up a TUN device with the address the vpn-server gives,
// and routes all traffic (or only --subnet ones) through it. Linux only; needs CAP_NET_ADMIN.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { Command } from 'commander';
import { parseVpnCommand } from './vpn-command-line.js';
import { addAppApiOptions } from './app-command.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { createLogger, type Logger } from '../util/log.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { installSignalHandlers, isShuttingDown, onShutdown, shutdown } from '../util/lifecycle.js';
import { capYoungGeneration } from '../apps/vpn/memory.js';
import { VpnClient, VpnFatalError } from '../apps/vpn/client.js';
import { formatCidr, parseCidr } from '../apps/vpn/ipv4.js';
import { defaultStateDir } from '../apps/vpn/netconfig.js';
import { DEFAULT_GIVE_UP_S, DEFAULT_MTU, collect, parseGiveUp, parseDevice, parseHops, parseIpv4, parseMtu, parseOffload, DEFAULT_OFFLOAD, OFFLOAD_HELP, parsePk } from '../apps/vpn/options.js';
import { VPN_PORT } from '../apps/vpn/protocol.js';
import { type MeshTransport, connectNode } from '../apps/vpn/transport.js';

/** The vpn-client's own options; `inNode`: for `skywire node ... --vpn-client`, without the separate app's. */
export function vpnClientProgram(name: string, inNode = false): Command {
  const base = new Command(name);
  const program = (inNode ? base.option('--name <name>', 'app name registered with the node', 'vpn-client') : addAppApiOptions(base, 'vpn-client'))
    .description(
      inNode
        ? 'VPN client inside this node\'s process: routes traffic through a vpn-server reached over the mesh (Linux, CAP_NET_ADMIN)'
        : 'VPN client: routes traffic through a vpn-server reached over the mesh (Linux, CAP_NET_ADMIN)',
    )
    .argument('<server>', 'the vpn-server\'s public key, or "auto" for any node announcing the vpn service')
    .option('--hops <n>', 'route length in hops')
    .option(
      '--give-up-after <seconds>',
      'exit with an error when no session with the server came up within this time (0 = retry forever); ' +
        'once up, a lost route is always retried',
      String(DEFAULT_GIVE_UP_S),
    )
    .option('--subnet <cidr>', 'route only this subnet through the VPN (repeatable); default: everything', collect, [])
    .option('--exclude <ip>', 'keep this IPv4 address outside a full tunnel, e.g. your transports\' peers (repeatable)', collect, [])
    .option('--dev <name>', 'TUN device name', 'cvpn0')
    .option('--mtu <bytes>', 'largest packet in the tunnel (the server may lower it)', String(DEFAULT_MTU))
    .option('--offload <on|off>', OFFLOAD_HELP, DEFAULT_OFFLOAD)
    .option('--state-dir <dir>', 'where the record of network changes is kept (for cleanup after a crash)', defaultStateDir())
    .option('--port <n>', 'the vpn-server\'s app port', String(VPN_PORT));
  if (!inNode) {
    program
      .option('--direct <host:port>', 'reach the server on its secure TCP listener instead of the mesh (needs --key)')
      .option('-k, --key <file>', 'with --direct: this client\'s key file (created if missing; the server must allow its key)');
  }
  return program.option('--json', 'print the up line (at start and after every reconnect) and the stopped line as one JSON object each', false);
}

export interface VpnClientCliOptions {
  hops?: string; giveUpAfter: string; subnet: string[]; exclude: string[]; dev: string; mtu: string; offload: string; stateDir: string;
  api?: string; token?: string; apiFile?: string; name: string; port: string; direct?: string; key?: string; json: boolean;
}

export type VpnClientConfig = ReturnType<typeof vpnClientConfig>;

/** The parsed options of a vpn-client; throws a one-line usage error (exit code 2). */
export function vpnClientConfig(opts: VpnClientCliOptions, serverArg: string) {
  if (opts.direct && !opts.key) throw new Error('--direct needs --key <file> (the identity the server checks against its allowlist)');
  if (opts.direct && serverArg === 'auto') throw new Error('--direct needs the server\'s key, not "auto"');
  return {
    server: serverArg === 'auto' ? 'auto' : parsePk(serverArg, 'server key'),
    hops: opts.hops ? parseHops(opts.hops) : undefined,
    giveUpMs: parseGiveUp(opts.giveUpAfter) * 1000,
    subnets: opts.subnet.length ? opts.subnet.map((s) => parseCidr(s, '--subnet')) : undefined,
    exclude: opts.exclude.map((ip) => parseIpv4(ip, '--exclude')),
    device: parseDevice(opts.dev),
    mtu: parseMtu(opts.mtu),
    offload: parseOffload(opts.offload),
    port: Number(opts.port),
    stateDir: opts.stateDir,
    json: opts.json,
  };
}

/**
 * Starts the client on `transport` with its shutdown hook and output lines; resolves with the exit code once
 * it ends (after a fatal error it has run the shutdown hooks, which undo its changes).
 */
export async function runVpnClient(cfg: VpnClientConfig, transport: MeshTransport, log: Logger): Promise<number> {
  const routing = cfg.subnets ? `routing ${cfg.subnets.map(formatCidr).join(', ')}` : 'routing all traffic';
  const client = new VpnClient({
    ...cfg,
    transport,
    log,
    onFatal: (err) => {
      console.error(`vpn-client: ${err.message}`);
      void shutdown(1);
    },
    onUp: (a) =>
      console.log(
        cfg.json
          ? JSON.stringify({ type: 'ready', device: a.device, address: a.address, prefixLen: a.prefixLen, gateway: a.gateway, mtu: a.mtu,
              routing: cfg.subnets ? cfg.subnets.map(formatCidr) : 'all', pk: transport.localPk })
          : `vpn-client: up on ${a.device}, address ${a.address}/${a.prefixLen}, gateway ${a.gateway}, mtu ${a.mtu}, ${routing}, as ${transport.localPk}`,
      ),
  });
  onShutdown(() => console.log(cfg.json ? JSON.stringify({ type: 'stopped' }) : 'vpn-client: stopped, network changes undone'));
  onShutdown(() => client.stop());
  try {
    await client.run();
  } catch (err) {
    if (isShuttingDown()) await shutdown(0);
    if (!(err instanceof VpnFatalError)) throw err;
    console.error(`vpn-client: ${err.message}`);
    await shutdown(1);
    return 1;
  }
  await shutdown(0);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseVpnCommand('vpn-client', vpnClientProgram('skywire vpn-client'), argv, (o: VpnClientCliOptions, args) => vpnClientConfig(o, args[0]));
  if (typeof parsed === 'number') return parsed;
  const { opts, built: cfg } = parsed;
  const log = createLogger('vpn-client');
  capYoungGeneration();
  installSignalHandlers();
  startSignalClientFromEnv(); // when started by Viscript: ping, resource usage, shutdown
  let transport: MeshTransport;
  try {
    // Loaded only when used: a client on a node never needs the secure channel's code (memory).
    const direct = opts.direct ? await import('../apps/vpn/direct-transport.js') : undefined;
    transport = direct
      ? direct.directDialer(await resolveDirect(opts.direct!), direct.loadOrCreateKeyFile(opts.key!))
      : await connectNode({ api: opts.api, token: opts.token, apiFile: opts.apiFile, name: opts.name });
  } catch (err) {
    console.error(`vpn-client: ${(err as Error).message}`);
    await shutdown(1);
    return 1;
  }
  if (!cfg.subnets && !opts.direct && !cfg.exclude.length) warnFullTunnel();
  return runVpnClient(cfg, transport, log);
}

/** A full tunnel over a node without --exclude would route the node's own transports into the tunnel. */
export function warnFullTunnel(): void {
  console.error(
    'vpn-client: warning: routing all traffic, but the node\'s transports must stay outside the tunnel: ' +
      'pass --exclude <IP> for each peer node and messenger it reaches over the network, or use --subnet',
  );
}

/** Resolves a host name once, so the route that keeps the server outside a full tunnel can be pinned to its IP. */
async function resolveDirect(text: string): Promise<string> {
  const { host, port } = parseHostPort(text);
  if (net.isIP(host)) return text;
  try {
    const { address } = await lookup(host, { family: 4 });
    return formatHostPort({ host: address, port });
  } catch (err) {
    throw new Error(`cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
