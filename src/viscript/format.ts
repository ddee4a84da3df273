// Text rendering shared by every front end, so the prompt, headless mode and one-shot commands agree.
import type { OutputLine } from './app-output.js';
import type { AppInfo } from './supervisor.js';
import { formatBytes } from '../util/text-table.js';
import { quoteWord } from './tokenize.js';

// One table and byte formatter for every front end (and the skywire CLI).
export { formatBytes, table } from '../util/text-table.js';

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function describeExit(info: Pick<AppInfo, 'exitCode' | 'exitSignal'>): string {
  if (info.exitSignal) return `killed by ${info.exitSignal}`;
  return `exited with code ${info.exitCode ?? '?'}`;
}

export function stateText(info: AppInfo): string {
  switch (info.state) {
    case 'exited':
      return info.exitSignal ? `exited (${info.exitSignal})` : `exited (code ${info.exitCode ?? '?'})`;
    case 'failed':
      return `failed: ${info.error ?? 'could not start'}`;
    case 'fatal':
      return `fatal (${info.exitSignal ?? `code ${info.exitCode ?? '?'}`})`;
    case 'restarting':
      return `restarting (${info.exitSignal ?? `code ${info.exitCode ?? '?'}`})`;
    default:
      return info.state;
  }
}

export function uptimeMs(info: AppInfo, now = Date.now()): number | undefined {
  if (info.startedAt === undefined) return undefined;
  if (info.state === 'exited' || info.state === 'failed' || info.state === 'fatal' || info.state === 'restarting') return undefined;
  return now - info.startedAt;
}

export function commandLine(words: string[]): string {
  return words.map(quoteWord).join(' ');
}

/**
 * The TOP answer in words. Our clients send rss/heap/cpu figures; a 2017 or other client may send anything,
 * so known fields are named and the rest is shown as JSON.
 */
export function describeReportedUsage(r: Record<string, unknown>): string {
  const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const parts: string[] = [];
  const rss = num('rss');
  if (rss !== undefined) parts.push(`rss ${formatBytes(rss)}`);
  const used = num('heapUsed');
  const total = num('heapTotal');
  if (used !== undefined && total !== undefined) parts.push(`heap ${formatBytes(used)} of ${formatBytes(total)}`);
  const user = num('cpuUserUs');
  const sys = num('cpuSystemUs');
  if (user !== undefined && sys !== undefined) parts.push(`cpu time ${(user / 1000).toFixed(0)} ms user, ${(sys / 1000).toFixed(0)} ms system`);
  const up = num('uptimeS');
  if (up !== undefined) parts.push(`up ${up.toFixed(1)} s`);
  // Our clients also send Go MemStats names (for 2017 servers): the same figures, not shown twice.
  const known = new Set(['pid', 'rss', 'heapUsed', 'heapTotal', 'external', 'cpuUserUs', 'cpuSystemUs', 'uptimeS']);
  if (rss !== undefined) for (const k of ['Alloc', 'HeapAlloc', 'HeapInuse', 'HeapSys', 'HeapIdle', 'Sys', 'NumGC']) known.add(k);
  const rest = Object.fromEntries(Object.entries(r).filter(([k]) => !known.has(k)));
  if (Object.keys(rest).length || !parts.length) parts.push(JSON.stringify(rest));
  return parts.join(', ');
}

/** An app's line as `logs` shows it: the local time it arrived, then the text. */
export function stampedLine(l: OutputLine): string {
  const d = new Date(l.t);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const time = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return `${time} ${l.text}`;
}
