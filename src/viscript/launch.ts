// Turns an app's config into what to execute: `path` relative to the config file's directory, bare names
// looked up on PATH by spawn, and JavaScript files run with the node executable that runs Viscript.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { AppConfig } from './config.js';

export interface Launch {
  file: string;
  argv: string[];
  cwd: string;
  /** The command line as a user would type it (for `la -f`). */
  display: string[];
}

export class LaunchError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

const JS = /\.(?:js|mjs|cjs)$/;

export function resolveLaunch(app: AppConfig, configDir: string, args: string[]): Launch {
  const bare = !app.path.includes('/') && !app.path.includes('\\');
  const cwd = app.cwd ? resolve(configDir, app.cwd) : configDir;
  if (!existsSync(cwd)) throw new LaunchError('ENOENT', `working directory ${cwd} does not exist (ENOENT)`);
  if (bare && !JS.test(app.path)) return { file: app.path, argv: args, cwd, display: [app.path, ...args] };
  const target = isAbsolute(app.path) ? app.path : resolve(configDir, app.path);
  if (!existsSync(target)) throw new LaunchError('ENOENT', `${target} does not exist (ENOENT)`);
  if (JS.test(target)) return { file: process.execPath, argv: [target, ...args], cwd, display: ['node', target, ...args] };
  return { file: target, argv: args, cwd, display: [target, ...args] };
}
