// Client activation by environment, as in 2017: SIGNAL_CLIENT, SIGNAL_SERVER_ADDRESS, SIGNAL_CLIENT_ID, plus
// SIGNAL_TOKEN (the secret Viscript hands each app so no other local process can pose as it).

import { basename } from 'node:path';
import { SignalClient, type SignalClientOptions } from './client.js';
import { onShutdown } from '../util/lifecycle.js';

export const DEFAULT_SIGNAL_ADDRESS = 'localhost:7999';

/** SIGNAL_CLIENT is on unless unset, empty, "false" or "0". */
export function signalClientEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.SIGNAL_CLIENT ?? '').trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

/** The client options the environment asks for, or undefined when the client is off. Throws on bad values. */
export function signalOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SignalClientOptions | undefined {
  if (!signalClientEnabled(env)) return undefined;
  const idText = (env.SIGNAL_CLIENT_ID ?? '').trim() || '1';
  if (!/^\d+$/.test(idText) || !Number.isSafeInteger(Number(idText))) {
    throw new Error(`SIGNAL_CLIENT_ID "${env.SIGNAL_CLIENT_ID}" is not a non-negative integer`);
  }
  const address = (env.SIGNAL_SERVER_ADDRESS ?? '').trim() || DEFAULT_SIGNAL_ADDRESS;
  const script = process.argv[1];
  return {
    address,
    id: Number(idText),
    ...(env.SIGNAL_TOKEN ? { token: env.SIGNAL_TOKEN } : {}),
    name: script ? basename(script) : basename(process.argv0),
  };
}

/**
 * Starts a signal client when the environment enables it (SHUTDOWN then runs util shutdown(): the program's
 * onShutdown hooks, then exit). Returns it, or undefined when SIGNAL_CLIENT is off.
 */
export function startSignalClientFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<SignalClientOptions> = {},
): SignalClient | undefined {
  const opts = signalOptionsFromEnv(env);
  if (!opts) return undefined;
  const client = new SignalClient({ ...opts, ...overrides });
  client.start();
  // Every program that starts a client wants it closed cleanly on the way out; do it here, once for all.
  onShutdown(() => client.stop());
  return client;
}
