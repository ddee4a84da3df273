// A metering statement (docs/metering.md, Statement): what a node claims it forwarded to each neighbour on each
// route during a period, each claim with the latest receipt that neighbour signed, and the same for the end of
// the previous period (the base), so that the period's amount is the difference of two cumulative receipts.
// The node signs the whole statement. `verifyStatement` needs only public keys: those in the file.
import { createHash } from 'node:crypto';
import type { KeyPair } from '../../net/keys.js';
import { noble } from '../../net/secp256k1.js';
import { decodeReceipt, RECEIPT_BYTES, verifyReceipt, type Receipt } from './receipt.js';
import { hashesTo, parseLinkText } from './chain.js';
import type { VerifyEngine } from './verify-libsecp.js';
import { UNSIGNED_TAIL_BYTES } from './meter.js';
import type { LedgerRecord } from './ledger.js';

export const STATEMENT_TYPE = 'skywire-metering-statement';
/** Signer clocks may differ from the exporter's by this much around the period's edges. */
export const CLOCK_SKEW_MS = 60_000;
const MAX_ENTRIES = 1_000_000;

export interface Counts {
  bytes: number;
  packets: number;
}
export interface StatementEntry {
  peer: string;
  routeId: number;
  /** Our cumulative counts at the end of the period, and the peer's latest receipt then (hex). */
  claimed: Counts;
  receipt?: string;
  /** The highest link of the receipt's chain we hold, "INDEX:HEX": it proves INDEX * step bytes more. */
  link?: string;
  /** The same at the end of the previous period, when the route carried traffic before. */
  base?: Counts & { receipt?: string; link?: string };
}
export interface StatementBody {
  type: typeof STATEMENT_TYPE;
  version: 1;
  node: string;
  period: { fromMs: number; toMs: number };
  createdMs: number;
  entries: StatementEntry[];
  /**
   * The routes this node owns that cross other nodes: `claimed` is what it sent, `receipt` the far end's
   * route receipt (what arrived end to end, signed for this node). Absent when there are none.
   */
  routes?: StatementEntry[];
}
export interface Statement extends StatementBody {
  /** ECDSA secp256k1 (compact r||s, low s) by `node` over SHA-256 of JSON.stringify(body without signature). */
  signature: string;
}

export type IssueKind = 'malformed' | 'bad-statement-signature' | 'wrong-key' | 'replayed' | 'inflated' | 'withheld' | 'exceeds-route';
export interface Issue {
  kind: IssueKind;
  peer?: string;
  routeId?: number;
  message: string;
}
export interface VerifiedEntry {
  peer: string;
  routeId: number;
  claimedBytes: number;
  signedBytes: number;
  /** Share of the claimed bytes backed by the peer's signatures (1 when nothing is claimed). */
  coverage: number;
  /** The cumulative counts at the end of the period: claimed, and proven by the peer's receipt and link. */
  claimedTotal: number;
  signedTotal: number;
}
export interface Verification {
  ok: boolean;
  node?: string;
  period?: { fromMs: number; toMs: number };
  entries: VerifiedEntry[];
  /** The statement's own routes: what it sent (claimed) and what each far end signed end to end. */
  routes: VerifiedEntry[];
  totals: { claimedBytes: number; signedBytes: number; payableBytes: number; coverage: number };
  issues: Issue[];
}

const bodyBytes = (b: StatementBody) =>
  Buffer.from(
    JSON.stringify({
      type: b.type, version: b.version, node: b.node, period: b.period, createdMs: b.createdMs, entries: b.entries,
      ...(b.routes ? { routes: b.routes } : {}),
    }),
  );

/** The statement for [fromMs, toMs) from the ledger's `out` records (those of the period and those before it). */
export function buildStatement(key: KeyPair, records: LedgerRecord[], period: { fromMs: number; toMs: number }, now = Date.now()): Statement {
  const entries = entriesOf(records, period, 'out');
  const routes = entriesOf(records, period, 'route');
  const body: StatementBody = {
    type: STATEMENT_TYPE, version: 1, node: key.publicKey.toString('hex'), period, createdMs: now, entries, ...(routes.length ? { routes } : {}),
  };
  return signStatement(body, key);
}

function entriesOf(records: LedgerRecord[], period: { fromMs: number; toMs: number }, dir: 'out' | 'route'): StatementEntry[] {
  const latest = (inPeriod: boolean) => {
    const m = new Map<string, LedgerRecord>();
    for (const r of records) {
      if (r.dir !== dir || r.lastMs >= period.toMs || (r.lastMs >= period.fromMs) !== inPeriod) continue;
      const k = `${r.peer}:${r.routeId}`;
      const have = m.get(k);
      if (!have || r.lastMs >= have.lastMs) m.set(k, r);
    }
    return m;
  };
  const now_ = latest(true);
  const before = latest(false);
  const entries: StatementEntry[] = [];
  for (const [k, r] of now_) {
    const b = before.get(k);
    entries.push({
      peer: r.peer,
      routeId: r.routeId,
      claimed: { bytes: r.bytes, packets: r.packets },
      ...(r.receipt ? { receipt: r.receipt, ...(r.link ? { link: r.link } : {}) } : {}),
      ...(b ? { base: { bytes: b.bytes, packets: b.packets, ...(b.receipt ? { receipt: b.receipt, ...(b.link ? { link: b.link } : {}) } : {}) } } : {}),
    });
  }
  entries.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : a.routeId - b.routeId));
  return entries;
}

/** Signs a statement body with the node's key. */
export function signStatement(body: StatementBody, key: KeyPair): Statement {
  const sig = noble().sign(bodyBytes(body), key.secretKey, { prehash: true });
  return { ...body, signature: Buffer.from(sig).toString('hex') };
}

// ---- verification: nothing in the file is trusted, every field is checked before use ----

const isPk = (v: unknown): v is string => typeof v === 'string' && /^0[23][0-9a-f]{64}$/.test(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isU32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCounts = (v: unknown): v is Counts => isObj(v) && isCount(v.bytes) && isCount(v.packets);
const RECEIPT_HEX = RECEIPT_BYTES * 2;
const isReceiptHex = (v: unknown): v is string => typeof v === 'string' && v.length === RECEIPT_HEX && /^[0-9a-f]+$/.test(v);
const isLink = (v: unknown): v is string => typeof v === 'string' && parseLinkText(v) !== undefined;

/** Why a value is not a statement, or undefined when its shape is right. */
function shapeError(v: unknown): string | undefined {
  if (!isObj(v)) return 'the statement must be a JSON object';
  if (v.type !== STATEMENT_TYPE || v.version !== 1) return `not a version 1 "${STATEMENT_TYPE}"`;
  if (!isPk(v.node)) return 'node must be a public key (66 lowercase hex characters)';
  if (!isObj(v.period) || !isCount(v.period.fromMs) || !isCount(v.period.toMs) || v.period.fromMs >= v.period.toMs) {
    return 'period must be {fromMs, toMs} with fromMs < toMs';
  }
  if (!isCount(v.createdMs)) return 'createdMs must be a time in ms';
  if (typeof v.signature !== 'string' || !/^[0-9a-f]{128}$/.test(v.signature)) return 'signature must be 128 hex characters';
  if (v.routes !== undefined && !Array.isArray(v.routes)) return 'routes must be a list';
  return listError(v.entries, 'entries') ?? (v.routes ? listError(v.routes, 'routes') : undefined);
}

function listError(list: unknown, name: string): string | undefined {
  if (!Array.isArray(list) || list.length > MAX_ENTRIES) return `${name} must be a list of at most ${MAX_ENTRIES}`;
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    const at = `${name}[${i}]`;
    if (!isObj(e)) return `${at} must be an object`;
    if (!isPk(e.peer)) return `${at}.peer must be a public key`;
    if (!isU32(e.routeId)) return `${at}.routeId must be a route id (u32)`;
    if (!isCounts(e.claimed)) return `${at}.claimed must be {bytes, packets}`;
    if (e.receipt !== undefined && !isReceiptHex(e.receipt)) return `${at}.receipt must be a receipt (${RECEIPT_HEX} hex characters)`;
    if (e.link !== undefined && (!isLink(e.link) || e.receipt === undefined)) return `${at}.link must be "INDEX:HEX" (64 hex) with a receipt`;
    if (e.base !== undefined) {
      if (!isCounts(e.base)) return `${at}.base must be {bytes, packets[, receipt, link]}`;
      const { receipt: r, link: l } = e.base as unknown as Record<string, unknown>;
      if (r !== undefined && !isReceiptHex(r)) return `${at}.base.receipt must be a receipt (${RECEIPT_HEX} hex characters)`;
      if (l !== undefined && (!isLink(l) || r === undefined)) return `${at}.base.link must be "INDEX:HEX" (64 hex) with a receipt`;
    }
  }
  return undefined;
}

const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

/** The receipts of a statement whose shape is right (those whose signatures a verification needs). */
function receiptsOf(v: unknown): Buffer[] {
  if (shapeError(v)) return [];
  const out: Buffer[] = [];
  for (const e of [...(v as Statement).entries, ...((v as Statement).routes ?? [])]) {
    if (e.receipt) out.push(Buffer.from(e.receipt, 'hex'));
    if (e.base?.receipt) out.push(Buffer.from(e.base.receipt, 'hex'));
  }
  return out;
}

/**
 * verifyStatement with every receipt's signature checked first on libsecp256k1, across threads (verify-pool.ts): the
 * fast path of `skywire metering verify`. Same answers (the tests compare both).
 */
export async function verifyStatementFast(v: unknown, engine?: VerifyEngine): Promise<Verification> {
  const raws = receiptsOf(v);
  // Loaded here, not with this module: a node builds statements but never checks them, and the WebAssembly
  // library costs an idle node about 11 MB of memory (docs/node.md, Memory).
  const { verifyReceiptsParallel } = await import('./verify-pool.js');
  const ok = await verifyReceiptsParallel(raws, undefined, engine);
  const good = new Set<string>();
  raws.forEach((r, i) => ok[i] && good.add(r.toString('hex')));
  return verifyStatement(v, (r) => good.has(r.raw.toString('hex')));
}

/**
 * Checks a statement offline: its signature, each receipt, and each claim against what the peers signed.
 * `signatureOk` checks a receipt's signature (default: @noble/curves, one at a time).
 */
export function verifyStatement(v: unknown, signatureOk: (r: Receipt) => boolean = verifyReceipt): Verification {
  const issues: Issue[] = [];
  const entries: VerifiedEntry[] = [];
  const totals = { claimedBytes: 0, signedBytes: 0, payableBytes: 0, coverage: 1 };
  const bad = shapeError(v);
  const routeList: VerifiedEntry[] = [];
  if (bad) return { ok: false, entries, routes: routeList, totals, issues: [{ kind: 'malformed', message: bad }] };
  const s = v as Statement;
  const { fromMs, toMs } = s.period;
  let sigOk: boolean;
  try {
    sigOk = noble().verify(Buffer.from(s.signature, 'hex'), bodyBytes(s), Buffer.from(s.node, 'hex'), { prehash: true, lowS: true });
  } catch {
    sigOk = false;
  }
  if (!sigOk) issues.push({ kind: 'bad-statement-signature', message: `the statement is not signed by its node ${s.node}` });

  const seen = new Set<string>();
  const routes = new Set<string>();
  // `owned`: an entry of `routes` (what we sent; the far end's route receipt), not a claim to be paid.
  const checkEntry = (e: StatementEntry, owned: boolean): VerifiedEntry => {
    const where = { peer: e.peer, routeId: e.routeId };
    const name = `${owned ? 'owned route' : 'route'} ${e.routeId} to ${e.peer.slice(0, 12)}...`;
    const issue = (kind: IssueKind, message: string) => issues.push({ kind, ...where, message: `${name}: ${message}` });
    const rk = `${owned}:${e.peer}:${e.routeId}`;
    if (routes.has(rk)) issue('replayed', 'listed twice');
    routes.add(rk);

    // A receipt counts only if the peer signed it, for this node and route, and it is not used twice.
    const check = (hex: string, what: string): Receipt | undefined => {
      const r = decodeReceiptOrUndefined(hex);
      if (!r) return void issue('malformed', `the ${what} is not a receipt`);
      if (r.signer !== e.peer) return void issue('wrong-key', `the ${what} is signed by ${r.signer.slice(0, 12)}..., not by the peer`);
      if (!signatureOk(r)) return void issue('wrong-key', `the ${what}'s signature does not verify with the peer's key`);
      if (r.payee !== s.node) return void issue('replayed', `the ${what} was issued to ${r.payee.slice(0, 12)}..., not to this node`);
      if (r.routeId !== e.routeId) return void issue('replayed', `the ${what} is for route ${r.routeId}`);
      const id = `${owned}:${what}:${r.signer}:${r.routeId}:${r.seq}`;
      if (seen.has(id)) return void issue('replayed', `the ${what} (seq ${r.seq}) is used more than once`);
      seen.add(id);
      return r;
    };
    const receipt = e.receipt ? check(e.receipt, 'receipt') : undefined;
    const base = e.base?.receipt ? check(e.base.receipt, 'base receipt') : undefined;
    // A link proves `index * step` bytes more than its receipt if it hashes to the receipt's chain tip.
    const proven = (r: Receipt | undefined, link: string | undefined, what: string): number => {
      if (!r) return 0;
      const l = link ? parseLinkText(link) : undefined;
      if (!l) return r.bytes;
      const c = r.chain;
      if (!c || l.index > c.links || !hashesTo(l.value, l.index, Buffer.from(c.tip, 'hex'))) {
        issue('wrong-key', `the ${what}'s link ${l.index} does not hash to its chain's tip`);
        return r.bytes;
      }
      return r.bytes + l.index * c.step;
    };
    const signedEnd = proven(receipt, e.link, 'receipt');
    const signedBase = proven(base, e.base?.link, 'base receipt');
    let ok = true;
    if (receipt && (receipt.timeMs < fromMs - CLOCK_SKEW_MS || receipt.timeMs >= toMs + CLOCK_SKEW_MS)) {
      issue('replayed', `the receipt is from ${new Date(receipt.timeMs).toISOString()}, outside the period`);
      ok = false;
    }
    if (base && base.timeMs >= fromMs + CLOCK_SKEW_MS) {
      issue('replayed', `the base receipt is from ${new Date(base.timeMs).toISOString()}, not before the period`);
      ok = false;
    }
    if (receipt && base && (base.seq > receipt.seq || signedBase > signedEnd)) {
      issue('replayed', `the base receipt (seq ${base.seq}) is not older than the receipt (seq ${receipt.seq})`);
      ok = false;
    }
    const claimed = Math.max(0, e.claimed.bytes - (e.base?.bytes ?? 0));
    const signed = receipt && ok ? Math.max(0, signedEnd - signedBase) : 0;
    const verified = { ...where, claimedBytes: claimed, signedBytes: signed, coverage: 1, claimedTotal: e.claimed.bytes, signedTotal: receipt && ok ? signedEnd : 0 };
    if (owned) return verified;
    if (e.base && e.base.bytes > e.claimed.bytes) issue('inflated', 'the base claims more than the end of the period');
    if (!e.receipt && claimed > 0) {
      issue('withheld', `claims ${mib(claimed)} with no receipt from the peer (withheld by the peer, or never sent)`);
    } else if (receipt && ok && claimed > signed + UNSIGNED_TAIL_BYTES) {
      issue('inflated', `claims ${mib(claimed)}, the peer signed for ${mib(signed)}`);
    }
    const backed = Math.min(claimed, signed);
    totals.claimedBytes += claimed;
    totals.signedBytes += signed;
    totals.payableBytes += backed;
    return { ...verified, coverage: claimed ? backed / claimed : 1 };
  };
  for (const e of s.entries) entries.push(checkEntry(e, false));
  for (const e of s.routes ?? []) routeList.push(checkEntry(e, true));
  totals.coverage = totals.claimedBytes ? totals.payableBytes / totals.claimedBytes : 1;
  return { ok: issues.length === 0, node: s.node, period: s.period, entries, routes: routeList, totals, issues };
}

function decodeReceiptOrUndefined(hex: string): Receipt | undefined {
  try {
    return decodeReceipt(Buffer.from(hex, 'hex'));
  } catch {
    return undefined;
  }
}

/** SHA-256 of a statement's signed bytes (for people who want to name one). */
export function statementDigest(s: StatementBody): string {
  return createHash('sha256').update(bodyBytes(s)).digest('hex');
}
