// The VPN benches' mesh on the A -- C -- B lab: messenger, node manager, node C and relay node R in C (each
// listening on C's address towards A), node A in A keeping transports to both. A route with `--hops 1` goes
// A -> C, with `--hops 2` it can only go A -> R -> C.
import { join } from 'node:path';
import type { Host, LabProcess } from '../../test/netns/lab.js';
import { C_ON_A_LINK, meshTools, type VpnLab } from '../../test/apps/vpn/topology.js';

export interface BenchMesh {
  pkA: string;
  pkR: string;
  pkC: string;
  apiA: string;
  apiC: string;
  apiR: string;
  nodeA: LabProcess;
  nodeC: LabProcess;
  nodeR: LabProcess;
  /** Starts node R again with the same key and options (after it was killed); resolves once it is up. */
  startNodeR(): Promise<LabProcess>;
  /** Starts node A / C again with the same key and options plus `extra` (after it stopped); resolves once it is up. */
  startNodeA(extra?: string[]): Promise<LabProcess>;
  startNodeC(extra?: string[]): Promise<LabProcess>;
}

export async function startBenchMesh(l: VpnLab, dir: string): Promise<BenchMesh> {
  const { keyFile, json, sky } = meshTools(dir);
  const [pkA, pkR, pkC] = [keyFile('a'), keyFile('r'), keyFile('c')];
  const m = sky(l.c, ['messenger', '--listen', `${C_ON_A_LINK}:0`, '--key', join(dir, 'm.json'), '--json'], 'messenger');
  const mInfo = json((await m.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]);
  const messenger = mInfo.address.includes('@') ? mInfo.address : `${mInfo.publicKey}@${mInfo.address}`;
  const nm = sky(l.c, ['node-manager', '--key', join(dir, 'nm.json'), '--messenger', messenger, '--json'], 'node-manager');
  const managerPk = json((await nm.waitFor(/^\{.*\}$/m, 20_000, 'stdout'))[0]).pk;
  const node = async (h: Host, n: string, extra: string[]): Promise<LabProcess> => {
    const args = ['node', '--key', join(dir, `${n}.json`), '--messenger', messenger, '--manager', managerPk, '--json', ...extra];
    const p = sky(h, args, `node ${n}`);
    await p.waitFor(/^\{.*\}$/m, 20_000, 'stdout');
    return p;
  };
  const startNodeC = (extra: string[] = []) => node(l.c, 'c', ['--listen', `${C_ON_A_LINK}:0`, ...extra]);
  const nodeC = await startNodeC();
  const startNodeR = () => node(l.c, 'r', ['--listen', `${C_ON_A_LINK}:0`, '--connect', pkC]);
  const nodeR = await startNodeR();
  const startNodeA = (extra: string[] = []) => node(l.a, 'a', ['--no-listen', '--connect', pkC, '--connect', pkR, ...extra]);
  const nodeA = await startNodeA();
  const apis = { apiA: join(dir, 'a.api.json'), apiC: join(dir, 'c.api.json'), apiR: join(dir, 'r.api.json') };
  return { pkA, pkR, pkC, ...apis, nodeA, nodeC, nodeR, startNodeR, startNodeA, startNodeC };
}
