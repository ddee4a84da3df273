// Structured, quiet-by-default logging on stderr: one JSON object per line, or with LOG_FORMAT=text one human
// line (`WARN component: message key=value`) without a timestamp, for a supervisor that stamps each line itself
// (Viscript sets it for its apps, as journald users do). Level from LOG_LEVEL (error|warn|info|debug), default
// "warn" so normal runs print nothing but problems.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function envLevel(): LogLevel {
  const v = (process.env.LOG_LEVEL ?? '').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'warn';
}

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

/** Redirects every logger's output (tests capture logs this way). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export function createLogger(component: string, base: Record<string, unknown> = {}): Logger {
  const fixed = { component, ...base };
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] > ORDER[envLevel()]) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level, ...fixed, msg };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? v.message : v;
    }
    sink(process.env.LOG_FORMAT === 'text' ? textLine(rec) : JSON.stringify(rec));
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    child: (f) => createLogger(component, { ...base, ...f }),
    enabled: (level) => ORDER[level] <= ORDER[envLevel()],
  };
}

export interface RateLimitedLog {
  /** Logs now if nothing was logged in the current interval, else counts this one for the summary line. */
  note(reason: string, fields?: Record<string, unknown>): void;
  /** Logs the summary of what is counted so far now (e.g. on close) instead of at the end of the interval. */
  flush(): void;
}

/**
 * For an event a peer can repeat at will (a refused connection, a protocol error): at most one line per
 * `intervalMs`. The first occurrence is logged at once; the ones after it in the same interval are counted and
 * reported in one line (`suppressed: N`, with the last reason) when the interval ends.
 */
export function rateLimited(log: Logger, level: LogLevel, msg: string, intervalMs = 10_000): RateLimitedLog {
  let windowStart = -Infinity;
  let suppressed = 0;
  let last: Record<string, unknown> = {};
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (suppressed === 0) return;
    log[level](msg, { ...last, suppressed });
    suppressed = 0;
    windowStart = Date.now();
  };
  return {
    note(reason, fields) {
      if (!log.enabled(level)) return;
      const now = Date.now();
      if (now - windowStart >= intervalMs && suppressed === 0) {
        windowStart = now;
        log[level](msg, { reason, ...fields });
        return;
      }
      suppressed++;
      last = { reason, ...fields };
      if (!timer) {
        timer = setTimeout(flush, Math.max(0, windowStart + intervalMs - now));
        timer.unref();
      }
    },
    flush,
  };
}

/** `LEVEL component: msg key=value ...`; values that are not plain words are JSON-quoted. */
function textLine(rec: Record<string, unknown>): string {
  const { t: _t, level, component, msg, ...fields } = rec;
  const kv = Object.entries(fields).map(([k, v]) => {
    const s = typeof v === 'string' && /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
    return `${k}=${s}`;
  });
  return [`${String(level).toUpperCase()} ${String(component)}: ${String(msg)}`, ...kv].join(' ');
}
