// The messenger layer: discovery, datagrams and relayed streams by public key (docs/messenger.md).
export { MessengerClient, MAX_DATAGRAM_FRAMEABLE, type MessengerClientOptions } from './client.js';
export { MessengerServer, DEFAULT_LIMITS, type MessengerLimits, type MessengerServerOptions } from './server.js';
export { MessengerError, type MessengerErrorCode } from './errors.js';
export { parseMessengerAddress, formatMessengerAddress, type MessengerAddress } from './address.js';
export type { Entry, Service } from './types.js';
