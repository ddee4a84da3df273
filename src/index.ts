// Package entry: the pieces other programs embed. The signal client is also importable on its own
// as "skywire-viscript/signal".
export * from './util/log.js';
export * from './util/lifecycle.js';
