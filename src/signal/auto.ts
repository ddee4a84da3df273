// Side-effect module: `import 'skywire-viscript/signal/auto'` (or this file) makes a program a signal client
// when SIGNAL_CLIENT is set, and routes SIGINT/SIGTERM through the same shutdown hooks as a signal SHUTDOWN.

import { installSignalHandlers } from '../util/lifecycle.js';
import { createLogger } from '../util/log.js';
import type { SignalClient } from './client.js';
import { startSignalClientFromEnv } from './env.js';

installSignalHandlers();

let started: SignalClient | undefined;
try {
  started = startSignalClientFromEnv();
} catch (err) {
  // A bad environment must not stop the program itself from running; say what is wrong and go on.
  createLogger('signal-client').error('signal client not started', { err });
}

/** The client started from the environment, if any. */
export const signalClient = started;
