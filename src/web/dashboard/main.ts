// The network dashboard: a live graph of nodes and transports (latency on the edges, live routes drawn
// over them), a table per node of transports and routing rules with bytes and rates, the services in the
// messenger and the history of routes. Everything arrives as snapshots over the websocket.
import { connect } from '../common/ws';
import { $, clock, h, shortPk } from '../common/dom';

interface Transport { peer: string; latencyMs?: number; bytesIn?: number; bytesOut?: number; rateIn?: number; rateOut?: number; kind?: string }
interface Rule { id: number | string; kind: string; route?: string; nextPk?: string; bytesIn?: number; bytesOut?: number; rateIn?: number; rateOut?: number; signedBytes?: number }
interface NodeView { pk: string; name?: string; online: boolean; transports: Transport[]; rules?: Rule[] }
interface Route { key: string; from: string; to: string; port: number; fwd: string[]; rev: string[]; createdAt: number }
interface Service { pk: string; name: string; port: number; attrs?: Record<string, string> }
interface Snapshot {
  manager?: { pk: string; listen?: string | null; routesSetUp?: number; routesFailed?: number; routesBroken?: number };
  nodes: NodeView[]; routes: Route[]; services: Service[]; servicesError?: string;
}
interface HistoryEvent { t: number; kind: string; text: string }

const SVG = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 560;
const COLORS = ['#3fa7ff', '#ffb547', '#b78cff', '#5fd38d', '#ff6f91', '#4fd1c5'];
const short = (pk: string) => pk.slice(0, 8);
const positions = new Map<string, { x: number; y: number }>();
/** Names nodes announced (`skywire node --name`), from the latest snapshot. A name is a label anyone can pick
 *  for their own key, so it is always shown beside the key's prefix, and the full key is in the tooltip. */
let names = new Map<string, string>();

/** A node as the tables show it: its name (if any) next to the hex prefix; the full key in the tooltip. */
function who(pk: string): HTMLElement {
  const name = names.get(pk);
  return h('span', { class: 'who', title: name ? `${name}\n${pk}` : pk }, name ? h('b', { class: 'name' }, name) : undefined, h('code', {}, short(pk)));
}
/** The same as text, for paths and history lines. */
const whoText = (pk: string) => (names.has(pk) ? `${names.get(pk)} (${short(pk)})` : short(pk));
/** The one row an empty table shows. */
const none = (cols: number) => h('tr', { class: 'none' }, h('td', { colspan: cols }, 'none'));

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const bytes = (n?: number) => {
  if (n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
};
const rate = (n?: number) => (n === undefined ? '–' : `${bytes(Math.round(n))}/s`);
const ms = (n?: number) => (n === undefined ? '–' : `${n.toFixed(n < 10 ? 2 : 1)} ms`);

/** Nodes on a circle in key order; a node keeps its place while others come and go. */
function layout(nodes: NodeView[]) {
  const keys = nodes.map((n) => n.pk).sort();
  const r = Math.min(W, H) / 2 - 70;
  keys.forEach((pk, i) => {
    const a = (2 * Math.PI * i) / keys.length - Math.PI / 2;
    positions.set(pk, { x: W / 2 + r * Math.cos(a), y: H / 2 + r * Math.sin(a) });
  });
}

function drawGraph(s: Snapshot) {
  const g = $('#graph') as unknown as SVGSVGElement;
  g.replaceChildren();
  if (!s.nodes.length) {
    g.append(svg('text', { x: W / 2, y: H / 2, class: 'empty' }, 'no nodes connected to the node manager yet'));
    return;
  }
  layout(s.nodes);
  const drawn = new Set<string>();
  for (const n of s.nodes) {
    for (const t of n.transports) {
      const id = [n.pk, t.peer].sort().join('-');
      const a = positions.get(n.pk);
      const b = positions.get(t.peer);
      if (drawn.has(id) || !a || !b) continue;
      drawn.add(id);
      const [pa, pb] = [n.pk, t.peer].sort();
      g.append(svg('line', { class: 'edge', x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'data-a': pa, 'data-b': pb }));
      g.append(svg('text', { class: 'edge-label', x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4 }, ms(t.latencyMs)));
    }
  }
  s.routes.forEach((r, i) => {
    const off = (i % 6) * 3 - 7;
    const pts = r.fwd.map((pk) => positions.get(pk)).filter((p) => p !== undefined).map((p) => `${p.x + off},${p.y + off}`);
    if (pts.length > 1) g.append(svg('polyline', { class: 'route', points: pts.join(' '), stroke: COLORS[i % COLORS.length], 'data-route': r.key }));
  });
  for (const n of s.nodes) {
    const p = positions.get(n.pk)!;
    const node = svg('g', { class: `node ${n.online ? 'online' : 'offline'}`, 'data-pk': n.pk });
    node.append(svg('circle', { cx: p.x, cy: p.y, r: 22 }), svg('text', { x: p.x, y: p.y + 40 }, short(n.pk)));
    if (n.name) node.append(svg('text', { class: 'name', x: p.x, y: p.y + 55 }, n.name.length > 18 ? `${n.name.slice(0, 17)}…` : n.name));
    node.append(svg('title', {}, `${n.name ? `${n.name}\n` : ''}${n.pk}\n${n.online ? 'online' : 'offline'}, ${n.transports.length} transport(s)`));
    g.append(node);
  }
}

function cell(text: string, cls?: string) {
  return h('td', cls ? { class: cls } : {}, text);
}

const td = (child: Node, cls?: string) => h('td', cls ? { class: cls } : {}, child);
const head = (...cols: string[]) => h('thead', {}, h('tr', {}, ...cols.map((x) => h('th', {}, x))));
/** A table in a box that never lets it spill out of its card (it scrolls inside at very small widths). */
const boxed = (table: HTMLElement) => h('div', { class: 'table-box' }, table);
const pathCell = (path: string[]) => td(h('span', { class: 'path' }, path.map(whoText).join(' → ')), 'wrap');
/** Receipt coverage of a rule's forwarded bytes: the share its next hop signed for (docs/metering.md). */
function coverage(r: Rule) {
  if (r.signedBytes === undefined) return h('td', { class: 'num', title: 'not metered' }, '');
  const out = r.bytesOut ?? 0;
  const share = out ? Math.min(r.signedBytes, out) / out : 1;
  return h('td', { class: 'num coverage', 'data-coverage': share.toFixed(4), title: `${bytes(r.signedBytes)} of ${bytes(out)} signed by the next hop` },
    `${(share * 100).toFixed(1)}%`);
}

function drawTables(s: Snapshot, history: HistoryEvent[]) {
  const m = s.manager;
  const online = s.nodes.filter((n) => n.online).length;
  $('#stats').replaceChildren(
    'manager ', h('code', { title: m?.pk ?? '' }, m ? short(m.pk) : '?'),
    ' · nodes online ', h('b', { 'data-testid': 'online-count' }, String(online)), ` of ${s.nodes.length}`,
    ' · live routes ', h('b', {}, String(s.routes.length)),
    m ? ` · set up ${m.routesSetUp ?? 0}, failed ${m.routesFailed ?? 0}, broken ${m.routesBroken ?? 0}` : '');

  $('#history').replaceChildren(...(history.length ? history.slice().reverse().map((e) =>
    h('li', { class: e.kind }, h('span', { class: 'when' }, clock(e.t)), e.text)) : [h('li', { class: 'none' }, 'none')]));

  $('#services tbody').replaceChildren(...(s.services.length ? s.services.map((sv) => h('tr', {},
    cell(sv.name, 'wrap'), td(who(sv.pk)), cell(String(sv.port), 'num'),
    cell(Object.entries(sv.attrs ?? {}).map(([k, v]) => `${k}=${v}`).join(' '), 'wrap'))) : s.servicesError ? [] : [none(4)]),
    // Never an empty catch in a UI: a failed query is said, not shown as an empty table.
    ...(s.servicesError ? [h('tr', { class: 'error', 'data-testid': 'services-error' }, h('td', { colspan: 4 }, s.servicesError))] : []));

  $('#routes tbody').replaceChildren(...(s.routes.length ? s.routes.map((r) => h('tr', { 'data-route': r.key },
    td(h('code', {}, r.key)), td(who(r.from)), td(who(r.to)), cell(String(r.port), 'num'), pathCell(r.fwd), pathCell(r.rev),
    cell(`${Math.round((Date.now() - r.createdAt) / 1000)} s`, 'num'))) : [none(7)]));

  $('#nodes').replaceChildren(...s.nodes.slice().sort((a, b) => a.pk.localeCompare(b.pk)).map((n) => {
    const transports = h('table', { 'data-testid': 'transports' }, head('peer', 'kind', 'latency', 'in', 'out', 'in/s', 'out/s'),
      h('tbody', {}, ...(n.transports.length ? n.transports.map((t) => h('tr', { 'data-peer': t.peer },
        td(who(t.peer)), cell(t.kind ?? '', t.kind ? `kind kind-${t.kind}` : undefined), cell(ms(t.latencyMs), 'num'),
        cell(bytes(t.bytesIn), 'num'), cell(bytes(t.bytesOut), 'num'), cell(rate(t.rateIn), 'num'), cell(rate(t.rateOut), 'num'))) : [none(7)])));
    const rules = n.rules ? h('table', { 'data-testid': 'rules' }, head('rule', 'kind', 'route', 'next hop', 'in', 'out', 'in/s', 'out/s', 'signed'),
      h('tbody', {}, ...(n.rules.length ? n.rules.map((r) => h('tr', {}, cell(String(r.id), 'num'), cell(r.kind), td(h('code', { title: r.route ?? '' }, (r.route ?? '').slice(0, 8))),
        r.nextPk ? td(who(r.nextPk)) : cell(''), cell(bytes(r.bytesIn), 'num'), cell(bytes(r.bytesOut), 'num'),
        cell(rate(r.rateIn), 'num'), cell(rate(r.rateOut), 'num'), coverage(r))) : [none(9)]))) : undefined;
    // The card's title: the name, then the key shortened (the whole key in the tooltip, and selectable there).
    const title = h('h3', {}, n.name ? h('span', { class: 'name' }, n.name) : undefined,
      h('code', { class: 'key', title: n.pk }, shortPk(n.pk)), h('span', { class: 'state' }, n.online ? 'online' : 'offline'));
    return h('div', { class: `card ${n.online ? 'online' : 'offline'}`, 'data-pk': n.pk },
      title, h('h4', {}, 'transports'), boxed(transports), rules ? h('h4', {}, 'routing rules (per hop)') : undefined, rules ? boxed(rules) : undefined);
  }));
}

connect((msg) => {
  if (msg.type !== 'snapshot') return;
  const s = msg.snapshot as Snapshot;
  names = new Map(s.nodes.filter((n) => n.name).map((n) => [n.pk, n.name!]));
  drawGraph(s);
  drawTables(s, (msg.history as HistoryEvent[]) ?? []);
}, (open) => {
  const c = $('#conn');
  c.className = open ? 'on' : 'off';
  c.textContent = open ? 'live' : 'reconnecting…';
});
