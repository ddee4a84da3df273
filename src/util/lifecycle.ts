// Process shutdown: components register hooks; SIGINT/SIGTERM (or a signal-protocol SHUTDOWN)
// runs them once, in reverse order of registration, each bounded in time, then exits.

type Hook = () => void | Promise<void>;
const hooks: Hook[] = [];
let shuttingDown: Promise<void> | undefined;
let handlersInstalled = false;

/** Registers a hook run on shutdown. Returns a function that unregisters it. */
export function onShutdown(hook: Hook): () => void {
  hooks.push(hook);
  return () => {
    const i = hooks.indexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
  };
}

export function isShuttingDown(): boolean {
  return shuttingDown !== undefined;
}

/**
 * Runs every hook (newest first), each given at most `hookTimeoutMs`, then exits with `code`
 * unless `exit` is false. Safe to call more than once: later calls wait for the first.
 */
export function shutdown(code = 0, opts: { hookTimeoutMs?: number; exit?: boolean } = {}): Promise<void> {
  if (shuttingDown) return shuttingDown;
  const hookTimeoutMs = opts.hookTimeoutMs ?? 5000;
  shuttingDown = (async () => {
    for (const hook of hooks.slice().reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(hook),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, hookTimeoutMs);
            timer.unref();
          }),
        ]);
      } catch (err) {
        process.stderr.write(`shutdown hook failed: ${(err as Error).message}\n`);
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
    if (opts.exit !== false) process.exit(code);
  })();
  return shuttingDown;
}

/** Installs SIGINT/SIGTERM handlers that run the shutdown hooks (a second signal exits at once). */
export function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (shuttingDown) process.exit(130);
      void shutdown(0);
    });
  }
}
