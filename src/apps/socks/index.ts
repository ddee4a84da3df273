// SOCKS5 over the mesh: the socks-client (local SOCKS5 proxy) and the socks-server (the exit).
export { AddressPolicy, BLOCKED_RANGES, parseAllowOption, parseCidr, parseIp, formatIp, type Cidr } from './address-policy.js';
export { SocksClient, repForDialError, type SocksClientOptions } from './client.js';
export { SocksExit, repForError, type SocksExitOptions } from './exit.js';
export { ExitPicker, NoExitError, type ExitCandidate, type MeshDialer } from './exit-picker.js';
export * from './header.js';
export { splice } from './splice.js';
export {
  startSocksServerApp,
  startSocksClientApp,
  SOCKS_SERVICE,
  DEFAULT_MESH_PORT,
  type MeshApp,
  type SocksServerAppOptions,
  type SocksClientAppOptions,
} from './apps.js';
