// The dashboard of a running node manager: `startManagerDashboard(manager, { host, port })`.
import type { GuiServer } from '../../util/gui-server.js';
import { parseHostPort } from '../../util/hostport.js';
import { onShutdown } from '../../util/lifecycle.js';
import { QUERY_MAX_LIMIT } from '../../messenger/types.js';
import { isNodeName } from '../../util/node-name.js';
import type { NodeManager } from '../manager.js';

/** The service every node announces (src/node/transports.ts); nodes put their --name in its attributes. */
const NODE_SERVICE = 'skywire-node';
import type { NetworkSnapshot, NodeView, RouteView, RuleView, TrackerOptions, TransportView } from './model.js';
import { startDashboard } from './server.js';

export { startDashboard, type DashboardOptions } from './server.js';
export type { NetworkSnapshot, HistoryEvent } from './model.js';

/** Traffic counters of one node, when the manager has them (nodes report them with their transports). */
export interface NodeStats {
  transports?: Array<{ pk: string; latencyMs?: number; bytesIn?: number; bytesOut?: number; kind?: string }>;
  rules?: RuleView[];
}

export interface ManagerDashboardOptions extends TrackerOptions {
  host?: string;
  port?: number;
  token?: string;
  intervalMs?: number;
  /** Per-node traffic counters, if the manager keeps what nodes report. */
  nodeStats?: (pk: string) => NodeStats | undefined;
}

type ManagerLike = Pick<NodeManager, 'status' | 'messenger' | 'on' | 'off'>;

/** At most this many pages of services are read per snapshot (bounded work whatever the directory holds). */
const MAX_SERVICE_PAGES = 20;

/** Builds the dashboard's view from the manager's own state and the messenger's directory. */
export function managerSnapshot(manager: ManagerLike, nodeStats?: (pk: string) => NodeStats | undefined) {
  return async (): Promise<NetworkSnapshot> => {
    const s = manager.status() as {
      pk: string;
      listen: string | null;
      nodes: string[];
      transports: Array<{ a: string; b: string; latencyMs: number }>;
      routes: RouteView[];
      routesSetUp: number;
      routesFailed: number;
      routesBroken: number;
    };
    const byNode = new Map<string, TransportView[]>(s.nodes.map((pk) => [pk, []]));
    for (const e of s.transports) {
      byNode.get(e.a)?.push({ peer: e.b, latencyMs: e.latencyMs });
      byNode.get(e.b)?.push({ peer: e.a, latencyMs: e.latencyMs });
    }
    const services: NetworkSnapshot['services'] = [];
    let servicesError: string | undefined;
    try {
      // The messenger answers at most QUERY_MAX_LIMIT entries a request: page through (bounded).
      for (let offset = 0, page = 0; page < MAX_SERVICE_PAGES; page++) {
        const { entries, total } = await manager.messenger.query({ offset, limit: QUERY_MAX_LIMIT });
        for (const e of entries) for (const sv of e.services) services.push({ pk: e.pk, name: sv.name, port: sv.port, ...(sv.attrs ? { attrs: sv.attrs } : {}) });
        offset += entries.length;
        if (entries.length < QUERY_MAX_LIMIT || offset >= total) break;
      }
    } catch (err) {
      // Shown on the page: an empty table must not pass for "nothing announced".
      servicesError = `the messenger did not answer the services query: ${(err as Error).message}`;
    }
    // Names nodes announced with their node service (`skywire node --name`): anyone may announce anything for
    // their own key, so only names that pass the same check as the CLI's are shown, always beside the key.
    const names = new Map<string, string>();
    for (const sv of services) if (sv.name === NODE_SERVICE && isNodeName(sv.attrs?.name)) names.set(sv.pk, sv.attrs.name);
    const nodes: NodeView[] = s.nodes.map((pk) => {
      const stats = nodeStats?.(pk);
      const counters = new Map((stats?.transports ?? []).map((t) => [t.pk, t]));
      const transports = (byNode.get(pk) ?? []).map((t) => {
        const c = counters.get(t.peer);
        return c ? { ...t, bytesIn: c.bytesIn, bytesOut: c.bytesOut, kind: c.kind } : t;
      });
      const name = names.get(pk);
      return { pk, ...(name !== undefined ? { name } : {}), online: true, transports, ...(stats?.rules ? { rules: stats.rules } : {}) };
    });
    return {
      manager: { pk: s.pk, listen: s.listen, routesSetUp: s.routesSetUp, routesFailed: s.routesFailed, routesBroken: s.routesBroken },
      nodes,
      routes: s.routes,
      services,
      ...(servicesError ? { servicesError } : {}),
    };
  };
}

export function startManagerDashboard(manager: ManagerLike, o: ManagerDashboardOptions = {}): Promise<GuiServer> {
  // A manager that keeps what its nodes report (bytes per transport and per rule) offers nodeStats(pk).
  const own = (manager as { nodeStats?: (pk: string) => NodeStats | undefined }).nodeStats;
  const nodeStats = o.nodeStats ?? (typeof own === 'function' ? (pk: string) => own.call(manager, pk) : undefined);
  return startDashboard({
    host: o.host,
    port: o.port,
    token: o.token,
    intervalMs: o.intervalMs,
    forgetAfterMs: o.forgetAfterMs,
    maxGone: o.maxGone,
    snapshot: managerSnapshot(manager, nodeStats),
    events: manager,
  });
}

/**
 * `skywire node-manager --web HOST:PORT`: starts the dashboard, prints the URL to open on stdout and closes it
 * on shutdown. The one call the CLI makes.
 */
export async function runManagerDashboard(
  manager: ManagerLike,
  address: string,
  out: { write(s: string): unknown } = process.stdout,
  o: TrackerOptions = {},
): Promise<GuiServer> {
  const { host, port } = parseHostPort(address, '127.0.0.1');
  let dash: GuiServer;
  try {
    dash = await startManagerDashboard(manager, { host, port, ...o });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot serve the dashboard on ${address}: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`, { cause: err });
  }
  onShutdown(() => dash.close());
  out.write(`dashboard: open ${dash.url}\n`);
  return dash;
}
