// The netns VPN tests run twice: with the TUN offload path on and off (the `--offload` flag of both apps). Each
// `*.test.ts` of a pair sets the mode, then imports the shared cases (`*.cases.ts`), which pass `offloadArgs()`
// to every vpn-server and vpn-client they start. One process per test file, so the mode is per file.
import type { TestContext, TestOptions } from 'node:test';

let mode: 'on' | 'off' = 'on';

export function useOffload(m: 'on' | 'off'): void {
  mode = m;
}

export function offloadMode(): 'on' | 'off' {
  return mode;
}

/** The flag for a vpn-server or vpn-client started by a test. */
export function offloadArgs(): string[] {
  return ['--offload', mode];
}

type CaseFn = (t: TestContext) => Promise<void> | void;

/**
 * The shared cases, collected by `test` below and registered by each test file itself: node:test names a test's
 * file by where `test()` was called, and the suite's summary counts tests per file.
 */
export const cases: Array<{ name: string; opts: TestOptions; fn: CaseFn }> = [];

export function test(name: string, opts: TestOptions, fn: CaseFn): void {
  cases.push({ name, opts, fn });
}
