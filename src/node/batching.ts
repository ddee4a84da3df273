// Placeholder until the shared batching policy lands in src/net (see docs/node.md): a write this small with
// nothing waiting is interactive traffic and leaves at once.
export const SMALL_WRITE_BYTES = 16 * 1024;
