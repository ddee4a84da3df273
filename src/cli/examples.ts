// The examples every `skywire <command> --help` ends with, in one placeholder style: PK (66 hex digits),
// PK@HOST:PORT for a messenger, FILE names as a user would choose them.
export const EXAMPLES: Record<string, string[]> = {
  'skywire demo': ['skywire demo', 'skywire demo --socks 127.0.0.1:1081 --gui', 'skywire demo --headless --json'],
  'skywire keygen': ['skywire keygen --out node.json', 'skywire keygen --out node.json --json'],
  'skywire messenger': [
    'skywire messenger --listen 0.0.0.0:7110 --key messenger.json',
    'skywire messenger --listen 0.0.0.0:7110 --key messenger.json --redis redis://10.0.0.5:6379/0',
  ],
  'skywire node-manager': [
    'skywire node-manager --key manager.json --messenger PK@HOST:7110 --web 127.0.0.1:7190',
    'skywire node-manager --key manager2.json --messenger PK@HOST:7110 --listen 0.0.0.0:7120 --redis redis://10.0.0.5:6379/0',
  ],
  'skywire node': [
    'skywire node --key node.json --messenger PK@HOST:7110 --manager PK --listen 0.0.0.0:7121',
    'skywire node --key node.json --messenger PK@HOST:7110 --manager PK --name "kitchen pi"',
    'skywire node status -k node.json',
    'skywire node transports ls -k node.json',
    'sudo skywire node --key c.json --messenger PK@HOST:7110 --manager PK --listen 0.0.0.0:7121 --vpn-server --allow CLIENT_NODE_PK',
    'sudo skywire node --key a.json --messenger PK@HOST:7110 --manager PK --connect PK_C --vpn-client PK_C --subnet 192.168.77.0/24',
  ],
  'skywire node ... --vpn-server': [
    'sudo skywire node --key c.json --messenger PK@HOST:7110 --manager PK --listen 0.0.0.0:7121 --vpn-server --allow CLIENT_NODE_PK',
    'sudo skywire node --key c.json --messenger PK@HOST:7110 --manager PK --vpn-server --allow-file keys.txt --subnet 10.99.0.0/24 --json',
  ],
  'skywire node ... --vpn-client': [
    'sudo skywire node --key a.json --messenger PK@HOST:7110 --manager PK --connect PK_C --vpn-client PK_C --subnet 192.168.77.0/24',
    'sudo skywire node --key a.json --messenger PK@HOST:7110 --manager PK --vpn-client PK_C --hops 2 --exclude 203.0.113.7 --exclude 198.51.100.9',
  ],
  'skywire node status': ['skywire node status -k node.json', 'skywire node status --api-file node.api.json --json'],
  'skywire ping': ['skywire ping PK -k node.json', 'skywire ping PK --hops 2 -c 5 --api-file node.api.json'],
  'skywire services': ['skywire services -m PK@HOST:7110', 'skywire services socks -m PK@HOST:7110 --json'],
  'skywire socks-server': ['skywire socks-server --api-file node.api.json', 'skywire socks-server --api-file node.api.json --allow 192.168.1.0/24'],
  'skywire socks-client': [
    'skywire socks-client --api-file node.api.json --server auto --hops 2',
    'skywire socks-client --api-file node.api.json --listen 127.0.0.1:1081 --server PK',
  ],
  'skywire vpn-server': ['skywire vpn-server --api-file node.api.json --allow PK', 'skywire vpn-server --api-file node.api.json --allow PK --offload off', 'skywire vpn-server --api-file node.api.json --allow-file keys.txt --subnet 10.99.0.0/24 --json'],
  'skywire vpn-client': ['skywire vpn-client --api-file node.api.json PK', 'skywire vpn-client --api-file node.api.json --subnet 10.0.0.0/8 PK', 'skywire vpn-client --api-file node.api.json --exclude 203.0.113.7 --json PK'],
  'skywire metering': ['skywire metering -k node.json', 'skywire metering -k node.json --period last-hour --json'],
  'skywire metering export': ['skywire metering export -k node.json --period 2026-11-27 -o node-2026-11-27.json'],
  'skywire metering verify': ['skywire metering verify node-2026-11-27.json', 'skywire metering verify hop.json --routes owner.json --json'],
  'skywire chat': ['skywire chat --key me.json --messenger PK@HOST:7110 --web 127.0.0.1:7130', 'skywire chat --key me.json --messenger PK@HOST:7110 --json'],
};
