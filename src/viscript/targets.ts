// What a command's target word names: an id (as in 2017), an app name (its instances) or `all`, so
// `sd node-a`, `restart all` and `logs web` work without looking up ids first.
import type { AppInfo, Supervisor } from './supervisor.js';
import { ENDED_STATES } from './supervisor.js';

export class TargetError extends Error {}

const ID = /^\d{1,9}$/;

/** Instances that run or are about to (not exited, failed or fatal). */
export const isLive = (a: AppInfo): boolean => !ENDED_STATES.includes(a.state);

/**
 * Every entry `word` names: the id itself, each instance of an app name, or every entry for `all`. An id wins
 * over an app whose name is all digits. Throws a TargetError naming what `word` could have been.
 */
export function resolveTargets(sup: Supervisor, word: string | undefined, usage: string): AppInfo[] {
  if (word === undefined) throw new TargetError(`missing id or app name (usage: ${usage})`);
  if (ID.test(word)) {
    const id = Number(word);
    if (sup.has(id)) return [sup.get(id)];
    if (!sup.config.apps.has(word)) throw new TargetError(`no app with id ${id} (see "la")`);
  }
  const list = sup.list();
  if (word === 'all') return list;
  const mine = list.filter((a) => a.name === word);
  if (mine.length) return mine;
  if (sup.config.apps.has(word)) throw new TargetError(`${word} has not been started (see "la"; "start ${word}" starts it)`);
  throw new TargetError(`"${word}" is neither an id nor an app name nor "all" (see "la")`);
}

/**
 * The one entry `word` names, for commands that act on one app (ping, ru, attach, logs): an id, or a name
 * with one live instance (or, when none is live, exactly one entry).
 */
export function resolveOne(sup: Supervisor, word: string | undefined, usage: string): AppInfo {
  if (word === 'all') throw new TargetError(`"all" names many apps; this command takes one id or app name (usage: ${usage})`);
  const found = resolveTargets(sup, word, usage);
  if (found.length === 1) return found[0];
  const live = found.filter(isLive);
  if (live.length === 1) return live[0];
  const ids = (live.length ? live : found).map((a) => a.id).join(', ');
  throw new TargetError(`${word} has ${live.length || found.length} instances (ids ${ids}): name one by its id`);
}
