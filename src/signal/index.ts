// The signal protocol: `skywire-viscript/signal`. Importing it starts nothing; call
// startSignalClientFromEnv() (or import ./auto.js) to become a client.
export * from './errors.js';
export * from './frames.js';
export { SignalServer, DEFAULT_SIGNAL_PORT } from './server.js';
export type { SignalServerOptions, SignalClientInfo, ProtocolErrorInfo } from './server.js';
export { SignalClient, resourceUsage } from './client.js';
export type { SignalClientOptions } from './client.js';
export { startSignalClientFromEnv, signalOptionsFromEnv, signalClientEnabled, DEFAULT_SIGNAL_ADDRESS } from './env.js';
// What a client program needs next to the client: its shutdown hooks run on SHUTDOWN and on SIGINT/SIGTERM.
export { onShutdown, shutdown, installSignalHandlers } from '../util/lifecycle.js';
