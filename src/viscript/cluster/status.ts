// What an agent tells its hubs about its machine (the `lm` row): OS, cores, load, memory, uptime, apps.
import { arch, availableParallelism, freemem, hostname, loadavg, release, totalmem, type, uptime } from 'node:os';
import { packageVersion } from '../../util/package-version.js';
import type { Engine } from '../engine.js';
import { isLive } from '../targets.js';
import type { MachineStatus } from './protocol.js';

export function machineStatus(engine: Engine): MachineStatus {
  const list = engine.supervisor.list();
  return {
    hostname: hostname().slice(0, 255),
    os: `${type()} ${release()}`.slice(0, 100),
    arch: arch(),
    cores: availableParallelism(),
    load: loadavg(),
    memUsed: totalmem() - freemem(),
    memTotal: totalmem(),
    uptimeS: Math.round(uptime()),
    appsRunning: list.filter(isLive).length,
    appsConfigured: engine.config.apps.size,
    version: packageVersion(),
  };
}
