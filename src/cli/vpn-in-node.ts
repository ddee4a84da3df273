// `skywire node <node options> --vpn-server [vpn-server options]` / `--vpn-client SERVER [vpn-client options]`:
// the VPN endpoint runs inside the node's process (docs/vpn.md, "Inside the node"). The VPN code is the same as
// the separate app's; only its MeshTransport differs: an InProcessApp on the node (src/node/in-process-app.ts),
// whose streams are the routes' end-to-end channels themselves, instead of the SDK's loopback sockets.
import { parseVpnCommand } from './vpn-command-line.js';
import { createLogger } from '../util/log.js';
import { isShuttingDown, onShutdown, shutdown } from '../util/lifecycle.js';
import type { Node } from '../node/node.js';
import { InProcessApp } from '../node/in-process-app.js';
import { AppApiError } from '../node/sdk/errors.js';
import { fromInProcessApp } from '../apps/vpn/transport.js';
import { type VpnClientCliOptions, runVpnClient, vpnClientConfig, vpnClientProgram, warnFullTunnel } from './skywire-vpn-client.js';
import { type VpnServerCliOptions, startVpnServer, vpnServerConfig, vpnServerProgram } from './skywire-vpn-server.js';
import type { VpnKind } from './vpn-in-node-args.js';

/** A VPN endpoint parsed from the node's command line, ready to start once the node is up. */
export interface VpnInNode {
  kind: VpnKind;
  start(node: Node): Promise<number>;
}

/**
 * Parses the VPN part and checks the privileges before the node starts. Returns an exit code when the command
 * should stop (--help: 0, a usage error: 2, no CAP_NET_ADMIN: 1), else the endpoint to start.
 */
export function prepareVpnInNode(kind: VpnKind, argv: string[]): number | VpnInNode {
  const name = `skywire node ... --${kind}`;
  const parsed =
    kind === 'vpn-server'
      ? parseVpnCommand('vpn-server', vpnServerProgram(name, true), argv, (o: VpnServerCliOptions) => serverStarter(o))
      : parseVpnCommand('vpn-client', vpnClientProgram(name, true), argv, (o: VpnClientCliOptions, args) => clientStarter(o, args[0]));
  return typeof parsed === 'number' ? parsed : { kind, start: parsed.built };
}

/**
 * An error nothing caught, in the VPN part or the node, ends the process through the shutdown hooks, which undo
 * the VPN's network changes (Node's default would exit at once and leave them to the next start's recovery).
 */
function exitCleanlyOnUncaught(): void {
  process.once('uncaughtException', (err) => {
    process.stderr.write(`skywire node: uncaught error, stopping: ${err.stack ?? err.message}\n`);
    void shutdown(1);
  });
}

/** The VPN's app on the node; the node closing ends it before the node's streams go (shutdown hooks run newest first). */
function openApp(node: Node, name: string, port?: number) {
  exitCleanlyOnUncaught();
  const app = new InProcessApp(node, { name, port });
  onShutdown(() => app.closeWith(new AppApiError('closed', 'the node is shutting down')));
  return fromInProcessApp(app);
}

function serverStarter(opts: VpnServerCliOptions): (node: Node) => Promise<number> {
  const cfg = vpnServerConfig(opts);
  return async (node) => {
    let transport;
    try {
      transport = openApp(node, opts.name, cfg.port);
    } catch (err) {
      console.error(`vpn-server: ${(err as Error).message}`);
      await shutdown(1);
      return 1;
    }
    return startVpnServer(cfg, transport, createLogger('vpn-server'));
  };
}

function clientStarter(opts: VpnClientCliOptions, serverArg: string): (node: Node) => Promise<number> {
  const cfg = vpnClientConfig(opts, serverArg);
  return async (node) => {
    if (!cfg.subnets && !cfg.exclude.length) warnFullTunnel();
    const transport = openApp(node, opts.name);
    // The client runs for the node's life; a fatal error (refused, gave up) ends the process with status 1.
    void runVpnClient(cfg, transport, createLogger('vpn-client')).catch((err: Error) => {
      console.error(`vpn-client: ${err.message}`);
      if (!isShuttingDown()) void shutdown(1);
    });
    return 0;
  };
}
