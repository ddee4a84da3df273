// `skywire vpn-server`: gives allowed client keys an address in a private subnet and forwards (NATs)
// their traffic to this machine's network. Linux only; needs CAP_NET_ADMIN.
import { Command } from 'commander';
import { parseVpnCommand } from './vpn-command-line.js';
import { addAppApiOptions } from './app-command.js';
import { createLogger, type Logger } from '../util/log.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { installSignalHandlers, onShutdown, shutdown } from '../util/lifecycle.js';
import { capYoungGeneration } from '../apps/vpn/memory.js';
import { formatCidr, parseCidr } from '../apps/vpn/ipv4.js';
import { defaultStateDir } from '../apps/vpn/netconfig.js';
import { DEFAULT_MTU, DEFAULT_SUBNET, collect, parseAllowList, parseDevice, parseMtu, parseOffload, DEFAULT_OFFLOAD, OFFLOAD_HELP } from '../apps/vpn/options.js';
import { VPN_PORT } from '../apps/vpn/protocol.js';
import { VpnServer } from '../apps/vpn/server.js';
import { type MeshTransport, connectNode } from '../apps/vpn/transport.js';
import type { directListener } from '../apps/vpn/direct-transport.js';

/** The vpn-server's own options; `inNode`: for `skywire node ... --vpn-server`, without the separate app's. */
export function vpnServerProgram(name: string, inNode = false): Command {
  const base = new Command(name);
  const program = (inNode ? base.option('--name <name>', 'app name registered with the node', 'vpn-server') : addAppApiOptions(base, 'vpn-server'))
    .description(
      inNode
        ? 'VPN exit inside this node\'s process: forwards the traffic of allowed client keys to this machine\'s network (Linux, CAP_NET_ADMIN)'
        : 'VPN exit: forwards the traffic of allowed client keys to this machine\'s network (Linux, CAP_NET_ADMIN)',
    )
    .option('--allow <keys>', 'client public key(s) allowed to connect (repeatable, comma separated)', collect, [])
    .option('--allow-file <path>', 'file with one allowed client key per line (repeatable)', collect, [])
    .option('--subnet <cidr>', 'private subnet for the clients; the server takes its first address', DEFAULT_SUBNET)
    .option('--dev <name>', 'TUN device name', 'svpn0')
    .option('--mtu <bytes>', 'largest packet in the tunnel', String(DEFAULT_MTU))
    .option('--firewall <kind>', 'NAT with auto | nft | iptables', 'auto')
    .option('--offload <on|off>', OFFLOAD_HELP, DEFAULT_OFFLOAD)
    .option('--state-dir <dir>', 'where the record of network changes is kept (for cleanup after a crash)', defaultStateDir())
    .option('--port <n>', 'app port to listen on at the node', String(VPN_PORT));
  if (!inNode) {
    program
      .option('--direct-listen <host:port>', 'accept clients on a secure TCP listener instead of the mesh (needs --key); a bare :PORT is loopback')
      .option('-k, --key <file>', 'with --direct-listen: this server\'s key file (created if missing)');
  }
  return program.option('--json', 'print the up and stopped lines as one JSON object each', false);
}

export interface VpnServerCliOptions {
  allow: string[]; allowFile: string[]; subnet: string; dev: string; mtu: string; offload: string; firewall: string; stateDir: string;
  api?: string; token?: string; apiFile?: string; name: string; port: string; directListen?: string; key?: string; json: boolean;
}

export type VpnServerConfig = ReturnType<typeof vpnServerConfig>;

/** The parsed options of a vpn-server; throws a one-line usage error (exit code 2). */
export function vpnServerConfig(opts: VpnServerCliOptions) {
  if (!['auto', 'nft', 'iptables'].includes(opts.firewall)) throw new Error(`--firewall "${opts.firewall}" must be auto, nft or iptables`);
  const allow = parseAllowList(opts.allow, opts.allowFile);
  if (!allow.size) throw new Error('no client is allowed: give --allow <key> or --allow-file <path>');
  if (opts.directListen && !opts.key) throw new Error('--direct-listen needs --key <file> (the server\'s identity)');
  return {
    allow,
    subnet: parseCidr(opts.subnet, '--subnet'),
    device: parseDevice(opts.dev),
    mtu: parseMtu(opts.mtu),
    offload: parseOffload(opts.offload),
    firewall: opts.firewall as 'auto',
    port: parsePort(opts.port),
    stateDir: opts.stateDir,
    json: opts.json,
  };
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 2 || n > 65535) throw new Error(`--port "${text}" must be an integer from 2 to 65535`);
  return n;
}

/**
 * Starts the server on `transport` with its shutdown hook and prints its up line; resolves once it is up, with
 * 0, or with 1 after a failed start (the shutdown hooks have then undone what it did so far).
 */
export async function startVpnServer(cfg: VpnServerConfig, transport: MeshTransport, log: Logger, directAddress?: string): Promise<number> {
  const server = new VpnServer({
    ...cfg,
    transport,
    log,
    onFatal: (err) => {
      console.error(`vpn-server: ${err.message}`);
      void shutdown(1);
    },
  });
  onShutdown(() => console.log(cfg.json ? JSON.stringify({ type: 'stopped' }) : 'vpn-server: stopped, network changes undone'));
  onShutdown(() => server.stop());
  try {
    await server.start();
  } catch (err) {
    console.error(`vpn-server: ${(err as Error).message}`);
    await shutdown(1); // stops the server (undoing what it did so far) and the signal client
    return 1;
  }
  const subnet = formatCidr(cfg.subnet);
  if (cfg.json) {
    const where = directAddress ? { direct: directAddress } : {};
    console.log(JSON.stringify({ type: 'ready', device: cfg.device, gateway: server.gateway, subnet, allowed: cfg.allow.size, pk: transport.localPk, ...where }));
  } else {
    console.log(
      `vpn-server: up on ${cfg.device}, gateway ${server.gateway}, clients from ${subnet}, ` +
        `${cfg.allow.size} allowed key(s)${directAddress ? `, direct on ${directAddress} as ${transport.localPk}` : ''}`,
    );
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseVpnCommand('vpn-server', vpnServerProgram('skywire vpn-server'), argv, (o: VpnServerCliOptions) => vpnServerConfig(o));
  if (typeof parsed === 'number') return parsed;
  const { opts, built: cfg } = parsed;
  const log = createLogger('vpn-server');
  capYoungGeneration();
  installSignalHandlers();
  startSignalClientFromEnv(); // when started by Viscript: ping, resource usage, shutdown
  let transport: MeshTransport;
  let direct: ReturnType<typeof directListener> | undefined;
  try {
    if (opts.directListen) {
      // Loaded only when used: a server on a node never needs the secure channel's code (memory).
      const d = await import('../apps/vpn/direct-transport.js');
      transport = direct = d.directListener(opts.directListen, d.loadOrCreateKeyFile(opts.key!));
    } else transport = await connectNode({ api: opts.api, token: opts.token, apiFile: opts.apiFile, name: opts.name, port: cfg.port });
  } catch (err) {
    console.error(`vpn-server: ${(err as Error).message}`);
    await shutdown(1);
    return 1;
  }
  const code = await startVpnServer(cfg, transport, log, direct?.address());
  if (code) return code;
  await new Promise<never>(() => {}); // runs until a signal or SHUTDOWN runs the shutdown hooks
  await shutdown(0);
  return 0;
}
