// `skywire messenger --listen HOST:PORT --key FILE`: runs a messenger (discovery, datagrams and relayed streams
// by public key). The key file is loaded, or created (mode 0600) if missing; the address clients need,
// PK@HOST:PORT, is printed on start. A signal client when Viscript starts it; SIGINT/SIGTERM close cleanly.
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { missingKeyFolder } from './key-file-folder.js';
import { parseCommandLine } from './usage.js';
import { loadOrCreateKeyFile, pkToHex } from '../net/keys.js';
import { formatMessengerAddress } from '../messenger/address.js';
import { DEFAULT_LIMITS, MessengerServer } from '../messenger/server.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { dialableAddresses } from '../util/dialable.js';
import { parseHostPort } from '../util/hostport.js';
import { parseRedisUrl } from '../util/redis-url.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';

export const DEFAULT_MESSENGER_LISTEN = '127.0.0.1:8100';

function int(name: string, min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(v);
  };
}

function hostPort(v: string): { host: string; port: number } {
  return parseHostPort(v, '127.0.0.1');
}

export async function main(argv: string[]): Promise<number> {
  const L = DEFAULT_LIMITS;
  const program = new Command('skywire messenger')
    .description('run a messenger: clients find each other by public key, exchange datagrams and relayed streams')
    .option('-l, --listen <host:port>', 'where to listen (port 0 = any free port)', DEFAULT_MESSENGER_LISTEN)
    .option('-k, --key <file>', 'key pair file (created with mode 0600 if missing)', 'messenger-key.json')
    .option('--grace <ms>', 'how long an entry outlives its connection, for reconnects', int('--grace', 0), 10_000)
    .option('--idle-timeout <ms>', 'close connections silent this long', int('--idle-timeout', 1000), 60_000)
    .option('--max-entries <n>', 'registered keys at most', int('--max-entries', 1), L.maxEntries)
    .option('--max-streams <n>', 'relayed streams per connection at most', int('--max-streams', 1), L.maxStreamsPerConn)
    .option('--max-datagram <bytes>', 'largest datagram', int('--max-datagram', 1), L.maxDatagram)
    .option('--datagram-rate <n>', 'datagrams per second per connection (burst: twice that)', int('--datagram-rate', 1), L.datagramRate)
    .option('--announce <host:port>', 'the address clients dial, printed in PK@HOST:PORT (default: each interface address for 0.0.0.0/::)')
    .option('--redis <url>', 'share one registry with the other messengers on this Redis: redis://HOST:PORT/DB (default: alone, in memory)')
    .option('--json', 'print {"publicKey","address","addresses"} as one JSON line on start', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire messenger: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const o = program.opts<{
    listen: string;
    key: string;
    grace: number;
    idleTimeout: number;
    maxEntries: number;
    maxStreams: number;
    maxDatagram: number;
    datagramRate: number;
    announce?: string;
    redis?: string;
    json: boolean;
  }>();
  let redis;
  if (o.redis !== undefined) {
    try {
      redis = parseRedisUrl(o.redis);
    } catch (err) {
      console.error(`skywire messenger: --redis: ${(err as Error).message}`);
      return 2;
    }
  }
  let listen;
  try {
    listen = hostPort(o.listen);
  } catch (err) {
    console.error(`skywire messenger: --listen: ${(err as Error).message}`);
    return 2;
  }
  if (o.announce !== undefined) {
    try {
      if (parseHostPort(o.announce).port === 0) throw new Error(`"${o.announce}": port must not be 0`);
    } catch (err) {
      console.error(`skywire messenger: --announce: ${(err as Error).message}`);
      return 2;
    }
  }
  if (o.maxDatagram > DEFAULT_LIMITS.maxDatagram) {
    console.error(`skywire messenger: --max-datagram must be at most ${DEFAULT_LIMITS.maxDatagram}`);
    return 2;
  }
  const noFolder = existsSync(o.key) ? undefined : missingKeyFolder(o.key, '--key');
  if (noFolder) {
    console.error(`skywire messenger: ${noFolder}`);
    return 1;
  }
  let key;
  try {
    key = loadOrCreateKeyFile(o.key);
  } catch (err) {
    console.error(`skywire messenger: ${(err as Error).message}`);
    return 1;
  }
  installSignalHandlers();
  const server = new MessengerServer({
    key,
    host: listen.host,
    port: listen.port,
    graceMs: o.grace,
    idleTimeoutMs: o.idleTimeout,
    limits: {
      maxEntries: o.maxEntries,
      maxStreamsPerConn: o.maxStreams,
      maxDatagram: o.maxDatagram,
      datagramRate: o.datagramRate,
      datagramBurst: o.datagramRate * 2,
    },
  });
  let addr;
  try {
    addr = await server.listen();
  } catch (err) {
    console.error(`skywire messenger: cannot listen on ${listen.host}:${listen.port}: ${(err as Error).message}`);
    return 1;
  }
  onShutdown(() => server.close());
  startSignalClientFromEnv();
  // Never print a wildcard host: other machines need an address they can dial.
  const addresses = dialableAddresses(addr, o.announce).map((a) => formatMessengerAddress({ pk: key.publicKey, ...parseHostPort(a) }));
  if (redis) {
    // Loaded only here: a messenger without --redis (and every client) never loads the Redis client.
    const { RedisDirectory } = await import('../messenger/shared-directory.js');
    server.useShared(new RedisDirectory({ redis, self: pkToHex(key.publicKey), addresses, ttlMs: Math.max(o.grace, 1000), live: () => server.liveEntries(), liveEntry: (pk) => server.liveEntry(pk) }));
  }
  if (o.json) console.log(JSON.stringify({ publicKey: pkToHex(key.publicKey), address: addresses[0], addresses }));
  else {
    console.log(`messenger public key: ${pkToHex(key.publicKey)}`);
    for (const a of addresses) console.log(`messenger listening on ${a}`);
  }
  return 0;
}
