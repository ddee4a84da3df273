// Test fixture: a socks exit in its own process, behind a loopback TCP listener that stands in for the
// mesh. Prints its port; killed by the test to play a socks-server that goes away.
import { createServer, type AddressInfo } from 'node:net';
import { AddressPolicy, parseCidr, SocksExit } from '../../../src/apps/socks/index.js';

const exit = new SocksExit({ policy: new AddressPolicy(['127.0.0.0/8', '::1/128'].map(parseCidr)) });
const server = createServer({ allowHalfOpen: true }, (s) => exit.handle(s, { pk: 'ab'.repeat(33) }));
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
