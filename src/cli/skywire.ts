#!/usr/bin/env node
// `skywire <command>`: one entry point for every Skywire component. Each command lives in its own
// module (loaded only when used) and exports `main(argv)`, returning the process exit code.

// First, before any other module loads (ES modules evaluate their imports in order).
import './early-memory.js';
import { packageVersion } from '../util/package-version.js';

interface CommandModule {
  main(argv: string[]): Promise<number | void>;
}

const COMMANDS: Record<string, { desc: string; load: () => Promise<CommandModule> }> = {
  demo: { desc: 'run the local demo mesh under Viscript and print the curl line to try', load: () => import('./skywire-demo.js') },
  keygen: { desc: 'create a key pair file and print its public key', load: () => import('./skywire-keygen.js') },
  messenger: { desc: 'run a messenger: discovery, datagrams and relayed streams by public key', load: () => import('./skywire-messenger.js') },
  'node-manager': { desc: 'run a node manager: route graph, setup and repair', load: () => import('./skywire-node-manager.js') },
  node: { desc: 'run a mesh node (or: node status, node transports add|rm|ls)', load: () => import('./skywire-node.js') },
  metering: { desc: 'bandwidth receipts: per peer and route, export a signed statement, verify one', load: () => import('./skywire-metering.js') },
  ping: { desc: 'round trips to a node over a mesh route', load: () => import('./skywire-ping.js') },
  services: { desc: 'list services announced in the messenger (e.g. socks)', load: () => import('./skywire-services.js') },
  'socks-server': { desc: 'SOCKS exit over the mesh (announced as service "socks")', load: () => import('./skywire-socks-server.js') },
  'socks-client': { desc: 'local SOCKS5 proxy whose connections leave the mesh at a socks-server', load: () => import('./skywire-socks-client.js') },
  'vpn-server': { desc: "VPN exit: forward allowed clients' traffic to this network (Linux)", load: () => import('./skywire-vpn-server.js') },
  'vpn-client': { desc: 'VPN client: route traffic through a vpn-server over the mesh (Linux)', load: () => import('./skywire-vpn-client.js') },
  chat: { desc: 'Sky-Messenger: chat by public key, in the browser', load: () => import('./skywire-chat.js') },
  viscript: { desc: 'the launcher and signal server (same as the "viscript" command)', load: () => import('./viscript.js') },
};

function usage(): string {
  const width = Math.max(8, ...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.desc}`);
  return [
    'Usage: skywire <command> [options]',
    '',
    'Commands:',
    ...(lines.length ? lines : ['  (none yet)']),
    '',
    'Run "skywire <command> --help" (or "skywire help <command>") for the options of a command;',
    '"skywire --version" prints the version.',
  ].join('\n');
}

async function main(): Promise<number> {
  let [cmd, ...rest] = process.argv.slice(2);
  if (cmd === '--version' || cmd === '-V') {
    console.log(packageVersion());
    return 0;
  }
  // `skywire help node` = `skywire node --help`
  if (cmd === 'help' && rest.length) [cmd, rest] = [rest[0], ['--help']];
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return 0;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    console.error(`skywire: unknown command "${cmd}"\n\n${usage()}`);
    return 2;
  }
  const mod = await entry.load();
  return (await mod.main(rest)) ?? 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`skywire: ${err.message}`);
    process.exitCode = 1;
  },
);
