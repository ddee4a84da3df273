// Prints "routable" and exits once the node manager's dashboard (URL with token) pushes a snapshot in which
// every "PK1-PK2" edge given as an argument is a transport: from then on the manager can route across them.
// Runs inside a lab namespace, where the dashboard's loopback address is.
import { WebSocket } from 'ws';

const [url, ...edges] = process.argv.slice(2);
const u = new URL(url);
const ws = new WebSocket(`ws://${u.host}/?token=${u.searchParams.get('token')}`);
ws.on('error', (err) => {
  console.error(`dashboard: ${err.message}`);
  process.exit(1);
});
ws.on('message', (data) => {
  const m = JSON.parse(data.toString()) as { type: string; snapshot?: { nodes: Array<{ pk: string; transports: Array<{ peer: string }> }> } };
  if (m.type !== 'snapshot' || !m.snapshot) return;
  const peers = new Map(m.snapshot.nodes.map((n) => [n.pk, new Set(n.transports.map((x) => x.peer))]));
  if (edges.map((e) => e.split('-')).every(([a, b]) => peers.get(a)?.has(b) || peers.get(b)?.has(a))) {
    console.log('routable');
    ws.close();
    process.exit(0);
  }
});
