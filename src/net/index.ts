// The net layer: identity keys, the BOLT #8 secure channel, secure TCP, length-prefixed framing.
export * from './keys.js';
export * from './secure.js';
export * from './tcp.js';
export * from './framing.js';
