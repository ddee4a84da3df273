// What the app API's `metering` op answers (`skywire metering`): the routes this node meters now and those of
// the period in its ledger, per peer and route, with receipt coverage; or a signed statement of the period.
import type { KeyPair } from '../../net/keys.js';
import type { LedgerRecord, LedgerStore } from './ledger.js';
import type { Meter, MeterRow } from './meter.js';
import { buildStatement } from './statement.js';
import { decodeReceipt } from './receipt.js';
import { parseLinkText } from './chain.js';
import { AppApiError } from '../sdk/errors.js';

export interface MeteringRequest {
  action: 'show' | 'export';
  fromMs: number;
  toMs: number;
}

export interface MeteringParts {
  pkHex: string;
  key: KeyPair;
  meter: Meter | undefined;
  ledger: LedgerStore | undefined;
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The shape of a `metering` line of the app API: `{op, action: show|export, fromMs, toMs}`. */
export function checkMeteringRequest(req: Record<string, unknown>): MeteringRequest {
  const { action, fromMs, toMs } = req;
  if (action !== 'show' && action !== 'export') throw new AppApiError('bad_request', 'metering action must be "show" or "export"');
  if (!isTime(fromMs) || !isTime(toMs) || fromMs >= toMs) {
    throw new AppApiError('bad_request', 'metering needs fromMs < toMs (times in ms since 1970)');
  }
  return { action, fromMs, toMs };
}

/** What the record's receipt and link prove (both were checked when they arrived). */
function signedBytes(r: LedgerRecord): number {
  if (!r.receipt) return 0;
  try {
    const rc = decodeReceipt(Buffer.from(r.receipt, 'hex'));
    const l = r.link ? parseLinkText(r.link) : undefined;
    return rc.bytes + (l && rc.chain ? l.index * rc.chain.step : 0);
  } catch {
    return 0;
  }
}

export async function meteringView(req: MeteringRequest, p: MeteringParts): Promise<Record<string, unknown>> {
  if (!p.meter) throw new AppApiError('metering_off', 'metering is off on this node (start it with --metering)');
  // Today's counts and receipts go to the ledger first, so that what is shown or exported is current.
  await p.meter.tick();
  await p.meter.snapshot();
  const period = { fromMs: req.fromMs, toMs: req.toMs };
  if (req.action === 'export') {
    if (!p.ledger) throw new AppApiError('no_ledger', 'this node keeps no metering ledger (start it with a key file, or --metering-dir)');
    const records = await p.ledger.records(0, req.toMs);
    return { statement: buildStatement(p.key, records, period) };
  }
  const rows = new Map<string, MeterRow & { coverage: number; live: boolean }>();
  for (const r of (await p.ledger?.records(req.fromMs, req.toMs)) ?? []) {
    if (r.lastMs < req.fromMs || r.lastMs >= req.toMs) continue;
    const signed = signedBytes(r);
    rows.set(`${r.dir}:${r.peer}:${r.routeId}`, {
      dir: r.dir, peer: r.peer, routeId: r.routeId, bytes: r.bytes, packets: r.packets, signedBytes: signed,
      coverage: r.bytes ? Math.min(r.bytes, signed) / r.bytes : 1, live: false,
    });
  }
  const now = Date.now();
  if (now >= req.fromMs && now < req.toMs) {
    for (const m of p.meter.rows(now)) {
      rows.set(`${m.dir}:${m.peer}:${m.routeId}`, { ...m, coverage: m.bytes ? Math.min(m.bytes, m.signedBytes) / m.bytes : 1, live: true });
    }
  }
  return { pk: p.pkHex, period, routes: [...rows.values()], counters: p.meter.counters, ledger: p.ledger?.dir ?? null };
}
