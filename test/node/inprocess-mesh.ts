// A mesh of Node objects built in this process: one messenger, one node manager, and nodes / apps added on
// demand, each a real object on loopback sockets (no child process). Everything is closed after the test.
import { once } from 'node:events';
import { generateKeyPair } from '../../src/net/keys.js';
import { MessengerServer } from '../../src/messenger/server.js';
import { NodeManager } from '../../src/nodemanager/manager.js';
import { Node } from '../../src/node/node.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { formatHostPort } from '../../src/util/hostport.js';

export async function inProcessMesh(t: { after(fn: () => Promise<void>): void }) {
  const server = new MessengerServer({ key: generateKeyPair(), host: '127.0.0.1', port: 0 });
  const addr = await server.listen();
  const messengers = [{ pk: server.publicKey, ...addr }];
  const manager = new NodeManager({ localKey: generateKeyPair(), messengers });
  await manager.start();
  const nodes: Node[] = [];
  const apps: AppClient[] = [];
  t.after(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(nodes.map((n) => n.close()));
    await manager.close();
    await server.close();
  });
  /** A node linked to the manager (resolves once it is), dialing the given nodes. */
  const node = async (connect: Node[] = []) => {
    const n = new Node({ localKey: generateKeyPair(), messengers, managers: [manager.pkHex], connect: connect.map((c) => c.pkHex) });
    nodes.push(n);
    const linked = once(n, 'manager');
    await n.start();
    await linked;
    return n;
  };
  /** An app connected to node n's app API. */
  const app = async (n: Node, name: string, port?: number) => {
    const a = await AppClient.connect({ api: formatHostPort(n.apiAddress!), token: n.api.token, name, port, waitMs: 0 });
    apps.push(a);
    return a;
  };
  return { manager, node, app };
}
