// Bench helper (not a benchmark itself): a socks-client and a socks exit in one process, joined by a
// loopback TCP listener standing in for the mesh stream. Prints the SOCKS port on stdout.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { AddressPolicy, parseCidr, SocksClient, SocksExit } from '../../src/apps/socks/index.js';

const exit = new SocksExit({ policy: new AddressPolicy([parseCidr('127.0.0.0/8')]) });
const mesh = createServer({ allowHalfOpen: true }, (s) => exit.handle(s, { pk: 'bench' }));
mesh.listen(0, '127.0.0.1');
await once(mesh, 'listening');
const meshPort = (mesh.address() as AddressInfo).port;
const client = new SocksClient({
  port: 0,
  dial: async () => {
    const s = connect({ host: '127.0.0.1', port: meshPort, allowHalfOpen: true });
    await once(s, 'connect');
    s.setNoDelay(true);
    return s;
  },
});
const { port } = await client.listen();
process.stdout.write(`${port}\n`);
