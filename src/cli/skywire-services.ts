// `skywire services [NAME] --messenger PK@HOST:PORT`: lists the services announced in the messenger
// (public key, port, attributes). Asks the messenger directly, so it works without a local node; the
// querying identity is --key FILE, or a throw-away key generated for this one query.
import { Command } from 'commander';
import { table as textTable } from '../util/text-table.js';
import { parseCommandLine } from './usage.js';
import { generateKeyPair, readKeyFile, type KeyPair } from '../net/keys.js';
import { MessengerClient, parseMessengerAddress, type Entry } from '../messenger/index.js';

interface Row {
  pk: string;
  service: string;
  port: number;
  attrs: Record<string, string>;
  lastSeen: number;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function rowsOf(entries: Entry[], name?: string): Row[] {
  return entries.flatMap((e) =>
    e.services
      .filter((s) => !name || s.name === name)
      .map((s) => ({ pk: e.pk, service: s.name, port: s.port, attrs: s.attrs ?? {}, lastSeen: e.lastSeen })),
  );
}

function table(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.service,
    r.pk,
    String(r.port),
    Object.entries(r.attrs)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '-',
  ]);
  return textTable(['SERVICE', 'PUBLIC KEY', 'PORT', 'ATTRS'], cells);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('skywire services')
    .description('list the services announced in the messenger (all, or only NAME, e.g. "socks")')
    .argument('[name]', 'only this service')
    .requiredOption('-m, --messenger <PK@HOST:PORT>', 'messenger to ask (repeatable)', collect, [])
    .option('-k, --key <file>', 'key file of the querying identity (default: a throw-away key)')
    .option('--timeout <ms>', 'give up after this long', '10000')
    .option('--json', 'print the list as JSON', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire services: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const opts = program.opts<{ messenger: string[]; key?: string; timeout: string; json: boolean }>();
  const name = program.args[0] as string | undefined;
  const timeoutMs = Number(opts.timeout);
  let messengers;
  let localKey: KeyPair;
  try {
    if (!opts.messenger.length) throw new Error('give at least one --messenger PK@HOST:PORT');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`--timeout "${opts.timeout}" is not a positive number`);
    messengers = opts.messenger.map(parseMessengerAddress);
    localKey = opts.key ? readKeyFile(opts.key) : generateKeyPair();
  } catch (err) {
    console.error(`skywire services: ${(err as Error).message}`);
    return 2;
  }
  const client = new MessengerClient({ localKey, messengers, requestTimeoutMs: timeoutMs });
  client.on('error', () => {}); // connection trouble shows up as the timeout below
  try {
    await withTimeout(client.start(), timeoutMs, 'connecting to the messenger');
    const entries: Entry[] = [];
    for (let offset = 0; ; ) {
      const page = await client.query({ ...(name ? { service: name } : {}), offset, limit: 100 });
      entries.push(...page.entries);
      offset += page.entries.length;
      if (!page.entries.length || offset >= page.total) break;
    }
    const rows = rowsOf(entries, name).sort((a, b) => a.service.localeCompare(b.service) || a.pk.localeCompare(b.pk));
    if (opts.json) console.log(JSON.stringify(rows));
    else if (!rows.length) console.log(name ? `no "${name}" service is announced` : 'no services are announced');
    else console.log(table(rows));
    return 0;
  } catch (err) {
    console.error(`skywire services: ${(err as Error).message}`);
    return 1;
  } finally {
    await client.close().catch(() => {});
  }
}
