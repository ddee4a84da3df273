// `skywire chat`: Sky-Messenger, a chat by public key over the messenger, with a browser UI.
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { parseCommandLine } from './usage.js';
import { loadOrCreateKeyFile, shortPk } from '../net/keys.js';
import { MessengerClient, parseMessengerAddress } from '../messenger/index.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';
import { parseHostPort } from '../util/hostport.js';
import { createLogger } from '../util/log.js';
import { ChatStore } from '../apps/chat/store.js';
import { ChatApp } from '../apps/chat/app.js';
import { startChatWeb } from '../apps/chat/web.js';

const log = createLogger('chat');

export async function main(argv: string[]): Promise<number> {
  const program = new Command('skywire chat')
    .description('Sky-Messenger: chat by public key, end-to-end encrypted, through a messenger; UI in the browser')
    .requiredOption('-k, --key <file>', 'key pair file (created if missing)')
    .requiredOption('-m, --messenger <PK@HOST:PORT...>', 'messenger(s) to register with')
    .option('--web <HOST:PORT>', 'where to serve the browser UI (loopback by default)', '127.0.0.1:0')
    .option('--data <dir>', 'history directory (default: chat-<pk prefix> beside the key file)')
    .option('--json', 'print the start line and the messenger connection as one JSON object each', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const opts = program.opts<{ key: string; messenger: string[]; web: string; data?: string; json: boolean }>();
  const messengers = opts.messenger.map((m) => parseMessengerAddress(m));
  const web = parseHostPort(opts.web, '127.0.0.1');
  const key = loadOrCreateKeyFile(resolve(opts.key));
  const dataDir = resolve(opts.data ?? join(dirname(resolve(opts.key)), `chat-${shortPk(key.publicKey)}`));

  // Everything this process writes is private: LevelDB also creates files after open (logs, compactions).
  process.umask(0o077);
  const store = new ChatStore(dataDir);
  try {
    await store.open();
  } catch (err) {
    console.error(`chat: ${(err as Error).message}`);
    return 1;
  }
  installSignalHandlers();
  startSignalClientFromEnv();
  onShutdown(() => store.close());

  const messenger = new MessengerClient({ localKey: key, messengers });
  const app = new ChatApp({ key, transport: messenger, store });
  onShutdown(() => app.close());
  onShutdown(() => messenger.close());

  const gui = await startChatWeb({ host: web.host, port: web.port, app });
  onShutdown(() => gui.close());

  const pk = key.publicKey.toString('hex');
  if (opts.json) process.stdout.write(`${JSON.stringify({ type: 'ready', pk, history: dataDir, web: gui.url })}\n`);
  else process.stdout.write(`chat: you are ${pk}\nchat: history in ${dataDir}\nchat: open ${gui.url}\n`);

  await app.start(false);
  // The UI and history work while the messenger is unreachable; messages wait in the outbox.
  messenger.start().then(
    () => {
      app.online = true;
      app.emit('online', true);
      process.stdout.write(opts.json ? `${JSON.stringify({ type: 'online' })}\n` : 'chat: connected to the messenger\n');
      return app.announceOnline();
    },
    (err: Error) => log.warn('messenger not reachable yet', { err }),
  );
  return 0; // the servers keep the process alive until shutdown() exits it
}
