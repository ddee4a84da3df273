// `skywire node-manager --key FILE --messenger PK@HOST:PORT [--listen HOST:PORT]`: runs a node manager, which
// keeps the graph of nodes and transports and sets up, tears down and repairs routes.
import { Command, InvalidArgumentError } from 'commander';
import { parseCommandLine } from './usage.js';
import { loadOrCreateKeyFile } from '../net/keys.js';
import { parseMessengerAddress } from '../messenger/address.js';
import { NodeManager } from '../nodemanager/manager.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { dialableAddresses } from '../util/dialable.js';
import { formatHostPort, parseHostPort } from '../util/hostport.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';
import { parseRedisUrl, type RedisUrl } from '../util/redis-url.js';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} takes a positive number, not "${v}"`);
  return n;
};

export async function main(argv: string[]): Promise<number> {
  const program = new Command('skywire node-manager')
    .description('run a node manager: route graph, route setup, teardown and repair')
    .requiredOption('-k, --key <file>', 'key pair file (created with mode 0600 if missing)')
    .requiredOption(
      '-m, --messenger <PK@HOST:PORT>',
      'messenger to register with (repeatable)',
      (v: string, prev: Array<ReturnType<typeof parseMessengerAddress>> = []) => {
        try {
          return [...prev, parseMessengerAddress(v)];
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .option(
      '-l, --listen <host:port>',
      'where nodes connect, announced in the messenger (default 127.0.0.1:0)',
      (v: string) => {
        try {
          return parseHostPort(v, '127.0.0.1');
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .option('--announce <host:port>', 'address to announce (default: the listen address)')
    .option(
      '--redis <url>',
      'share the node graph, route ids and live routes with the other node managers on this Redis (redis://HOST:PORT/DB); without it this manager works alone, in memory',
      (v: string) => {
        try {
          return parseRedisUrl(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .option('--web <host:port>', 'serve the network dashboard here (loopback; prints the URL with its token)')
    .option('--web-forget <seconds>', 'the dashboard forgets a node gone this long (default 600)', positive('--web-forget'))
    .option('--web-max-gone <n>', 'the dashboard shows at most this many gone nodes, dropping the longest gone (default 500)', positive('--web-max-gone'))
    .option('--json', 'print {"pk","listen"} as one JSON line on start', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire node-manager: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const o = program.opts<{
    key: string;
    messenger: Array<{ pk: Buffer; host: string; port: number }>;
    listen?: { host: string; port: number };
    announce?: string;
    redis?: RedisUrl;
    web?: string;
    webForget?: number;
    webMaxGone?: number;
    json: boolean;
  }>();
  let key;
  try {
    key = loadOrCreateKeyFile(o.key);
  } catch (err) {
    console.error(`skywire node-manager: ${(err as Error).message}`);
    return 1;
  }
  installSignalHandlers();
  const mgr = new NodeManager({ localKey: key, messengers: o.messenger, listen: o.listen ?? { host: '127.0.0.1', port: 0 }, announceAddress: o.announce, ...(o.redis ? { redis: { url: o.redis } } : {}) });
  onShutdown(() => mgr.close());
  // start() waits for a messenger; say so if that takes a while, rather than sit silent.
  const waiting = setTimeout(
    () => console.error(`skywire node-manager: waiting for a messenger (${o.messenger.map((m) => `${m.host}:${m.port}`).join(', ')})...`),
    3000,
  );
  try {
    await mgr.start();
  } catch (err) {
    console.error(`skywire node-manager: ${(err as Error).message}`);
    await mgr.close().catch(() => {});
    return 1;
  } finally {
    clearTimeout(waiting);
  }
  startSignalClientFromEnv();
  let dashboard: string | undefined;
  if (o.web) {
    try {
      const { runManagerDashboard } = await import('../nodemanager/dashboard/index.js');
      // With --json the URL goes into the JSON line instead, so stdout stays one JSON line.
      const dash = await runManagerDashboard(mgr, o.web, o.json ? { write: () => true } : process.stdout, {
        forgetAfterMs: o.webForget === undefined ? undefined : o.webForget * 1000,
        maxGone: o.webMaxGone === undefined ? undefined : Math.floor(o.webMaxGone),
      });
      dashboard = dash.url;
    } catch (err) {
      console.error(`skywire node-manager: ${(err as Error).message}`);
      await mgr.close().catch(() => {});
      return 1;
    }
  }
  const listen = formatHostPort(mgr.listenAddress!);
  const addresses = dialableAddresses(mgr.listenAddress!, o.announce);
  if (o.json) console.log(JSON.stringify({ pk: mgr.pkHex, listen, addresses, ...(dashboard ? { dashboard } : {}) }));
  else {
    console.log(`node manager public key: ${mgr.pkHex}`);
    console.log(`node manager listening on ${addresses.join(', ')}`);
  }
  return 0;
}
