// `status()` of a manager sharing Redis: its own view merged with what every manager wrote there, so the dashboard of
// any manager shows the whole network (nodes linked to other managers only, too) and every live route.
import type { RouteView } from './dashboard/model.js';
import type { SharedStore } from './shared-store.js';

interface OwnStatus {
  nodes: string[];
  transports: Array<{ a: string; b: string; latencyMs: number }>;
  routes: Array<RouteView & { repairs: number }>;
  [k: string]: unknown;
}

export function sharedStatus(own: OwnStatus, shared: SharedStore): Record<string, unknown> {
  const view = shared.sharedView();
  const nodes = new Set(own.nodes);
  for (const pk of view.nodes.keys()) nodes.add(pk);
  // An edge needs both ends' reports (as in graph.ts), latency the larger of the two.
  const edges = new Map<string, { a: string; b: string; latencyMs: number }>();
  for (const e of own.transports) edges.set(`${e.a}|${e.b}`, e);
  for (const [a, list] of view.nodes) {
    for (const t of list) {
      const b = t.pk;
      if (a >= b || edges.has(`${a}|${b}`)) continue;
      const back = view.nodes.get(b)?.find((x) => x.pk === a);
      if (back) edges.set(`${a}|${b}`, { a, b, latencyMs: Math.max(t.latencyMs, back.latencyMs) });
    }
  }
  // Our own copy of a route is the freshest when it is at least as repaired as the stored one.
  const routes = new Map<string, RouteView & { routeKey: string; repairs: number; by?: string }>();
  for (const r of view.routes) {
    const { fwdIds: _f, revIds: _r, ...rest } = r;
    routes.set(r.key, { ...rest, routeKey: r.key, key: r.repairs ? `${r.key}~${r.repairs}` : r.key });
  }
  for (const r of own.routes) {
    const key = (r as { routeKey?: string }).routeKey ?? r.key;
    const stored = routes.get(key);
    if (!stored || stored.repairs <= r.repairs) routes.set(key, { ...r, routeKey: key, by: stored?.by });
  }
  return {
    ...own,
    nodes: [...nodes],
    transports: [...edges.values()],
    routes: [...routes.values()].map((r) => {
      const { fwdIds: _f, revIds: _r, mine: _m, repairing: _x, ...view } = r as typeof r & { fwdIds?: unknown; revIds?: unknown; mine?: unknown; repairing?: unknown };
      return view;
    }),
    managers: view.managers,
    redis: shared.available ? 'ok' : 'unavailable',
  };
}
