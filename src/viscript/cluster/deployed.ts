// Storing the app definitions hubs push (`deploy`): in `<config>.deployed.json` beside the agent's config file,
// written whole to a temporary file and renamed, so a crash never leaves half a file. config.ts reads it back
// at every load (start, `reload`), which is how pushed apps survive a restart.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { appSchema, deployedFile, type DeployedFile } from '../config.js';
import { problem } from './protocol.js';

/** Checks `app` as config.yaml would and stores it under `name`; returns the file. Throws a one-line Error. */
export function storeDeployed(configFile: string, name: string, app: Record<string, unknown>, hub: string): string {
  const checked = appSchema.safeParse(app);
  if (!checked.success) throw new Error(`the definition of ${name} is not valid: ${problem(checked.error)}`);
  const file = deployedFile(configFile);
  let current: DeployedFile = { version: 1, apps: {} };
  if (existsSync(file)) {
    try {
      const old = JSON.parse(readFileSync(file, 'utf8')) as DeployedFile;
      if (old && old.version === 1 && typeof old.apps === 'object' && old.apps) current = old;
    } catch {
      // damaged: rewritten below with this definition only
    }
  }
  current.apps[name] = { hub, at: Date.now(), app: app as DeployedFile['apps'][string]['app'] };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}
