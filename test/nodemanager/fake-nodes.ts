// Simulated nodes for in-process node manager tests and benches: each is a control link over an in-memory pipe into
// the real NodeManager (attachChannel), reporting the transports it is given and answering reserve with ids from
// `ids()` and everything else (install, remove, switch) with "done". What is exercised is the manager's own code.
import { ControlLink, type ControlMessage } from '../../src/net/control-link.js';
import type { NodeManager } from '../../src/nodemanager/manager.js';
import { duplexPair } from '../node/memory-link.js';

export interface FakeNode {
  pk: string;
  /** This node's link to each manager it was attached to, by manager key. */
  links: Map<string, ControlLink>;
  /** Every request a manager sent it. */
  received: Array<ControlMessage & { manager: string }>;
}

/** A counter of route ids (one per node: the node's own table hands out distinct ids to all managers). */
export function idCounter(first = 1): (count: number, manager: string) => number[] {
  let next = first;
  return (count) => Array.from({ length: count }, () => next++);
}

/** Attaches a simulated node `pk` to `manager`, reporting `transports`. */
export function attachFake(
  manager: NodeManager,
  node: FakeNode | string,
  transports: Array<{ pk: string; latencyMs: number }>,
  ids: (count: number, manager: string) => number[],
  o: { record?: boolean } = {},
): FakeNode {
  const fake: FakeNode = typeof node === 'string' ? { pk: node, links: new Map(), received: [] } : node;
  const [mine, theirs] = duplexPair();
  const link = new ControlLink(theirs, (m) => {
    if (o.record) fake.received.push({ ...m, manager: manager.pkHex });
    if (m.t === 'reserve') return { ids: ids(Number(m.count), manager.pkHex) };
    return undefined;
  });
  manager.attachChannel(Object.assign(mine, { remotePublicKey: Buffer.from(fake.pk, 'hex') }));
  link.send({ t: 'hello', transports });
  fake.links.set(manager.pkHex, link);
  return fake;
}
