// The demo's small web server: the target a browser or curl reaches through the mesh.
// GET /          a page that says where the request came from
// GET /bytes/N   N pseudo-random bytes (for download tests), at most 1 GiB
// It is a signal client (one import), so Viscript can ping it, read its usage and shut it down.
import 'skywire-viscript/signal/auto';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { onShutdown } from 'skywire-viscript/signal';

const [host = '127.0.0.1', portText = '7180'] = (process.argv[2] ?? '').split(':').filter(Boolean);
const port = Number(portText);
const block = randomBytes(64 * 1024);

const server = createServer((req, res) => {
  const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (bytes) {
    let left = Math.min(Number(bytes[1]), 1 << 30);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const chunk = left >= block.length ? block : block.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (req.url !== '/') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  // Only what this server knows: where the request came from (through the demo mesh, the socks-server
  // beside node C; a browser that bypassed the proxy for loopback comes straight from itself).
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`Hello from the Skywire demo web server.\nThis request came from ${req.socket.remoteAddress} port ${req.socket.remotePort}.\n`);
});

server.on('error', (err) => {
  console.error(`demo web server: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`demo web server listening on http://${host}:${port}/`));
onShutdown(() => new Promise((resolve) => server.close(() => resolve())));
