// Starts this Viscript's cluster roles from config.yaml's `cluster:` section: one messenger client under the
// cluster key, an agent when `hubs` is set, a hub (and its shell verbs) when `machines` is set.
import { loadOrCreateKeyFile, type KeyPair } from '../../net/keys.js';
import { MessengerClient } from '../../messenger/client.js';
import { parseMessengerAddress } from '../../messenger/address.js';
import { createLogger } from '../../util/log.js';
import type { Engine } from '../engine.js';
import { ClusterAgent } from './agent.js';
import type { ClusterConfig } from './config.js';
import { ClusterHub } from './hub.js';
import { HubRouter } from './hub-commands.js';

const log = createLogger('viscript.cluster');

export interface ClusterRuntime {
  publicKey: string;
  agent?: ClusterAgent;
  hub?: ClusterHub;
  close(): Promise<void>;
}

/** Throws a one-line Error for a key file or messenger address that cannot be used. */
export function startCluster(engine: Engine, cfg: ClusterConfig): ClusterRuntime {
  let key: KeyPair;
  try {
    key = loadOrCreateKeyFile(cfg.keyFile);
  } catch (err) {
    throw new Error(`cluster.key: ${(err as Error).message}`, { cause: err });
  }
  const messengers = cfg.messengers.map((m, i) => {
    try {
      return parseMessengerAddress(m);
    } catch (err) {
      throw new Error(`cluster.messengers.${i}: ${(err as Error).message}`, { cause: err });
    }
  });
  const messenger = new MessengerClient({ localKey: key, messengers, reconnect: { initialMs: 200, maxMs: 2000 } });
  // Registration goes on in the background: a Viscript starts (and runs its apps) with its messenger down.
  messenger.start().catch((err: Error) => log.debug('messenger client stopped before registering', { err: err.message }));
  const agent = cfg.hubs.length ? new ClusterAgent(engine, cfg, messenger, key) : undefined;
  const hub = cfg.machines.size ? new ClusterHub(cfg, messenger, key) : undefined;
  agent?.start();
  if (hub) {
    hub.start();
    engine.cluster = new HubRouter(hub, engine);
  }
  return {
    publicKey: key.publicKey.toString('hex'),
    agent,
    hub,
    async close() {
      engine.cluster = undefined;
      hub?.close();
      agent?.close();
      await messenger.close();
    },
  };
}
