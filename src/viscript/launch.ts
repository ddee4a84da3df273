// Turns an app's config into what to execute: `path` relative to the config file's directory, bare names
// looked up on PATH by spawn, and JavaScript files run with the node executable that runs Viscript.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
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

/**
 * The file exec would run for `file` (a bare name is looked up on `pathVar`, as execvp does), with the errors
 * spawn would give. Needed when the app is not spawned directly (the cgroup wrapper execs it).
 */
export function resolveExecutable(file: string, pathVar: string | undefined): string {
  const executable = (f: string) => {
    try {
      accessSync(f, constants.X_OK);
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    if (!existsSync(file)) throw new LaunchError('ENOENT', `${file} not found (ENOENT)`);
    if (!executable(file)) throw new LaunchError('EACCES', `${file} is not executable (EACCES)`);
    return file;
  }
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = join(dir || '.', file);
    if (executable(candidate)) return candidate;
  }
  throw new LaunchError('ENOENT', `${file} not found (ENOENT)`);
}
