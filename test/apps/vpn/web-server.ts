// A small web server for the VPN tests: GET /hello answers "hello from behind the vpn-server",
// GET /blob sends BLOB_BYTES of random data, PUT /sha256 answers the SHA-256 of the body it was sent. Prints "ready <port> <sha256 of the blob>" when listening.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';

const [host = '0.0.0.0', portText = '8080', sizeText = '0'] = process.argv.slice(2);
const blob = randomBytes(Number(sizeText));
const sha = createHash('sha256').update(blob).digest('hex');

const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.end(`hello from behind the vpn-server, you are ${req.socket.remoteAddress}\n`);
  } else if (req.url === '/blob') {
    res.writeHead(200, { 'content-length': blob.length, 'content-type': 'application/octet-stream' });
    res.end(blob);
  } else if (req.url === '/sha256' && req.method === 'PUT') {
    const h = createHash('sha256');
    pipeline(req, h).then(
      () => res.end(`${h.digest('hex')}\n`),
      () => res.writeHead(400).end(),
    );
  } else {
    res.writeHead(404).end();
  }
});
server.listen(Number(portText), host, () => {
  const addr = server.address();
  console.log(`ready ${typeof addr === 'object' && addr ? addr.port : portText} ${sha}`);
});
process.on('SIGTERM', () => process.exit(0));
