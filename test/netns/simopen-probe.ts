// Lab helper process: TCP simultaneous open. Dials HOST:PORT from LOCALPORT again and again (each try waits for
// the kernel's SYN retries or a reset) until connected, then writes its ROLE and prints what the peer wrote.
// Exits 0 once both sides spoke, 1 after the deadline. Usage: simopen-probe LOCALPORT HOST PORT ROLE DEADLINE_MS
import { connect } from 'node:net';

const [localPort, host, port, role, deadlineMs] = process.argv.slice(2);
const end = Date.now() + Number(deadlineMs);
const deadline = setTimeout(() => {
  console.log('failed: no connection before the deadline');
  process.exit(1);
}, Number(deadlineMs));

function tryOnce(): void {
  const s = connect({ host, port: Number(port), localPort: Number(localPort) });
  s.once('connect', () => {
    s.write(role);
    s.once('data', (d: Buffer) => {
      console.log(`connected ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}, got ${d.toString()}`);
      clearTimeout(deadline);
      // Let our own write reach the peer before going.
      s.end(() => process.exit(0));
    });
  });
  s.once('error', () => {
    s.destroy();
    if (Date.now() < end) setTimeout(tryOnce, 100);
  });
}
tryOnce();
