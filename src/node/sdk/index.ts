// The node app SDK: the only part of the node that apps import.
export { AppApiError } from './errors.js';
export { AppClient, DEFAULT_CONNECT_WAIT_MS, resolveApi, apiRequest, type AppClientOptions, type IncomingHandler } from './client.js';
export { ECHO_PORT } from './protocol.js';
export type { MeshApp, RemoteInfo, DialOptions, ServiceEntry } from './mesh-app.js';
