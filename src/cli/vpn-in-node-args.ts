// Where the VPN part of `skywire node ... --vpn-server|--vpn-client ...` starts. Kept apart from vpn-in-node.ts so
// that a node without a VPN loads none of the VPN's code (it is imported only when one of these flags is given).
export const VPN_FLAGS = ['--vpn-server', '--vpn-client'] as const;
export type VpnKind = 'vpn-server' | 'vpn-client';

/**
 * Splits the node's argv at the first --vpn-server / --vpn-client: what follows belongs to the VPN (its own
 * options, the same as the separate command's), so the two option sets never mix.
 */
export function splitVpnArgs(argv: string[]): { nodeArgv: string[]; vpn?: { kind: VpnKind; argv: string[] } } {
  const i = argv.findIndex((a) => (VPN_FLAGS as readonly string[]).includes(a));
  if (i < 0) return { nodeArgv: argv };
  return { nodeArgv: argv.slice(0, i), vpn: { kind: argv[i].slice(2) as VpnKind, argv: argv.slice(i + 1) } };
}

