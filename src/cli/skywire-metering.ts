// `skywire metering`: the bandwidth receipts of a running node (docs/metering.md).
//   skywire metering [--period P] [--json]           per peer and route: bytes forwarded/received, receipt coverage
//   skywire metering export [--period P] [-o FILE]   a statement of the period, signed by the node (JSON)
//   skywire metering verify FILE [--routes OWNER...] [--json]   checks a statement offline, with the public keys it names
import { Command, InvalidArgumentError } from 'commander';
import { parseCommandLine } from './usage.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { apiRequest, resolveApi } from '../node/sdk/client.js';
import { verifyStatementFast, type Verification } from '../node/metering/statement.js';
import { checkAgainstRoutes } from '../node/metering/route-check.js';

const DAY_MS = 86_400_000;
/** A statement file larger than this is refused before it is parsed. */
const MAX_STATEMENT_BYTES = 1 << 30;

/**
 * A period: `today`, `yesterday`, `last-hour`, `last-24h`, a UTC day `2026-11-27`, an hour `2026-11-27T13`, or
 * `FROM..TO` with ISO times (TO excluded).
 */
export function parsePeriod(v: string, now = Date.now()): { fromMs: number; toMs: number } {
  const day = Math.floor(now / DAY_MS) * DAY_MS;
  if (v === 'today') return { fromMs: day, toMs: day + DAY_MS };
  if (v === 'yesterday') return { fromMs: day - DAY_MS, toMs: day };
  // Up to now, and the minute after: what the node counts while it answers belongs to the period too.
  if (v === 'last-hour') return { fromMs: now - 3_600_000, toMs: now + 60_000 };
  if (v === 'last-24h') return { fromMs: now - DAY_MS, toMs: now + 60_000 };
  let m = /^(\d{4}-\d{2}-\d{2})$/.exec(v);
  if (m) {
    const from = Date.parse(`${m[1]}T00:00:00Z`);
    if (Number.isFinite(from)) return { fromMs: from, toMs: from + DAY_MS };
  }
  m = /^(\d{4}-\d{2}-\d{2}T\d{2})$/.exec(v);
  if (m) {
    const from = Date.parse(`${m[1]}:00:00Z`);
    if (Number.isFinite(from)) return { fromMs: from, toMs: from + 3_600_000 };
  }
  const [a, b, ...rest] = v.split('..');
  if (b !== undefined && !rest.length) {
    const fromMs = Date.parse(a);
    const toMs = Date.parse(b);
    if (Number.isFinite(fromMs) && Number.isFinite(toMs) && fromMs >= 0 && fromMs < toMs) return { fromMs, toMs };
  }
  throw new InvalidArgumentError(
    `period "${v.slice(0, 60)}" is not today, yesterday, last-hour, last-24h, YYYY-MM-DD, YYYY-MM-DDTHH or FROM..TO (ISO times)`,
  );
}

const parse = parseCommandLine;

const apiOptions = (c: Command) =>
  c
    .option('--api-file <file>', 'the node API file (default from --key, or SKYWIRE_APP_API_FILE)')
    .option('-k, --key <file>', 'the key file of the node (its API file is <key>.api.json)');

function apiOf(o: { apiFile?: string; key?: string }): { api: string; token: string } {
  return resolveApi({ apiFile: o.apiFile ?? (o.key ? `${o.key.replace(/\.json$/, '')}.api.json` : undefined) });
}

/** Asks the node; its answer is a JSON document after the reply line. */
async function ask(o: { apiFile?: string; key?: string }, action: 'show' | 'export', period: { fromMs: number; toMs: number }): Promise<Record<string, unknown>> {
  const { api, token } = apiOf(o);
  const { sock, reply } = await apiRequest(api, { op: 'metering', token, action, ...period });
  const want = reply.bytes;
  if (typeof want !== 'number' || !Number.isSafeInteger(want) || want < 0 || want > MAX_STATEMENT_BYTES) {
    sock.destroy();
    throw new Error('the node answered metering without a valid length');
  }
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const c of sock as AsyncIterable<Buffer>) {
    got += c.length;
    if (got > want) break;
    chunks.push(c);
  }
  sock.destroy();
  if (got !== want) throw new Error(`the node's metering answer was cut short (${got} of ${want} bytes)`);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

const pct = (x: number) => `${(x * 100).toFixed(x < 1 && x > 0.999 ? 2 : 1)}%`;

interface Row {
  dir: 'in' | 'out';
  peer: string;
  routeId: number;
  bytes: number;
  signedBytes: number;
  coverage: number;
  withholding?: boolean;
  live: boolean;
}

async function runShow(argv: string[]): Promise<number> {
  const program = apiOptions(new Command('skywire metering'))
    .description('bytes this node forwarded to and received from each peer, per route, with receipt coverage')
    .option('--period <period>', 'today, yesterday, last-hour, last-24h, YYYY-MM-DD, YYYY-MM-DDTHH or FROM..TO', 'last-24h')
    .option('--json', 'print the view as JSON', false);
  const code = parse(program, argv);
  if (code !== undefined) return code;
  const o = program.opts<{ apiFile?: string; key?: string; period: string; json: boolean }>();
  const view = await ask(o, 'show', parsePeriod(o.period));
  if (o.json) {
    console.log(JSON.stringify(view));
    return 0;
  }
  const rows = (view.routes as Row[]).sort((a, b) => (a.dir === b.dir ? (a.peer < b.peer ? -1 : 1) : a.dir === 'out' ? -1 : 1));
  if (!rows.length) {
    console.log('no metered traffic in this period');
    return 0;
  }
  // `out`: we forwarded to the peer, the peer signs (coverage = what its receipts back of our count).
  // `in`: the peer sent to us, we sign.
  console.log('DIR       PEER                                                                ROUTE       BYTES       SIGNED      COVERAGE');
  for (const r of rows) {
    const dir = r.dir === 'out' ? 'forwarded' : 'received';
    const flag = r.withholding ? '  (peer withholds receipts)' : '';
    console.log(
      `${dir.padEnd(10)}${r.peer.padEnd(68)}${String(r.routeId).padEnd(12)}${fmtBytes(r.bytes).padEnd(12)}${fmtBytes(r.signedBytes).padEnd(12)}${pct(r.coverage)}${flag}`,
    );
  }
  return 0;
}

async function runExport(argv: string[]): Promise<number> {
  const program = apiOptions(new Command('skywire metering export'))
    .description('write a statement of the period (JSON, signed by the node) that anybody can verify offline')
    .option('--period <period>', 'today, yesterday, last-hour, last-24h, YYYY-MM-DD, YYYY-MM-DDTHH or FROM..TO', 'today')
    .option('-o, --out <file>', 'write it here instead of stdout');
  const code = parse(program, argv);
  if (code !== undefined) return code;
  const o = program.opts<{ apiFile?: string; key?: string; period: string; out?: string }>();
  const { statement } = await ask(o, 'export', parsePeriod(o.period));
  const text = JSON.stringify(statement, null, 1) + '\n';
  if (o.out) writeFileSync(o.out, text);
  else process.stdout.write(text);
  return 0;
}

function printVerification(v: Verification, file: string): void {
  if (!v.node) {
    console.log(`${file}: not a statement: ${v.issues[0]?.message}`);
    return;
  }
  const from = new Date(v.period!.fromMs).toISOString();
  const to = new Date(v.period!.toMs).toISOString();
  console.log(`statement of ${v.node}, ${from} .. ${to}: ${v.entries.length} routes`);
  const t = v.totals;
  console.log(`claimed ${t.claimedBytes} bytes, signed by the peers ${t.signedBytes}, payable ${t.payableBytes} (coverage ${pct(t.coverage)})`);
  for (const i of v.issues) console.log(`${i.kind}: ${i.message}`);
  console.log(v.ok ? 'OK: every claim is backed by its peer\'s signed receipts' : `FAILED: ${v.issues.length} issue(s)`);
}

/** Reads and parses a statement file; a number is the exit code (2) after saying what was wrong. */
function readStatement(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`skywire metering verify: cannot read ${file}: ${(err as Error).message}`);
    return 2;
  }
  if (text.length > MAX_STATEMENT_BYTES) {
    console.error(`skywire metering verify: ${file} is larger than ${MAX_STATEMENT_BYTES} bytes`);
    return 2;
  }
  try {
    return { json: JSON.parse(text) as unknown };
  } catch (err) {
    console.error(`skywire metering verify: ${file} is not JSON: ${(err as Error).message}`);
    return 2;
  }
}

async function runVerify(argv: string[]): Promise<number> {
  const program = new Command('skywire metering verify')
    .description('check a statement offline: its signature, every receipt, and each claim against what the peers signed')
    .argument('<file>', 'the statement (from "skywire metering export")')
    .option('--routes <files...>', "statements of the routes' owners: each claim on a route's last hop is checked against what its far end signed to the owner")
    .option('--json', 'print the verification as JSON', false);
  const code = parse(program, argv);
  if (code !== undefined) return code;
  const file = program.args[0];
  const o = program.opts<{ json: boolean; routes?: string[] }>();
  const read = readStatement(file);
  if (typeof read === 'number') return read;
  const v = await verifyStatementFast((read as { json: unknown }).json);
  for (const f of o.routes ?? []) {
    const r = readStatement(f);
    if (typeof r === 'number') return r;
    const owner = await verifyStatementFast((r as { json: unknown }).json);
    // The owner's file must hold up itself: its route receipts are the evidence.
    for (const i of owner.issues) v.issues.push({ ...i, message: `${f}: ${i.message}` });
    v.issues.push(...checkAgainstRoutes(v, [owner]));
  }
  v.ok = v.issues.length === 0;
  if (o.json) console.log(JSON.stringify(v));
  else printVerification(v, file);
  return v.ok ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'export') return await runExport(argv.slice(1));
    if (argv[0] === 'verify') return await runVerify(argv.slice(1));
    if (argv[0] === 'show') return await runShow(argv.slice(1));
    return await runShow(argv);
  } catch (err) {
    // A bad --period is a usage error (exit 2), like commander's own.
    if (!(err instanceof InvalidArgumentError)) throw err;
    console.error(`skywire metering: ${err.message}`);
    return 2;
  }
}
