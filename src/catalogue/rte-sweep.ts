import { existsSync, readdirSync } from 'node:fs';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { entryLastUsed, listCache, removeLockedEntry, staleEntryUsers } from '../images/cache-admin.js';
import type { EntryPaths } from '../images/cache-entry.js';
import { entryUsers, removeEntryUser } from '../images/cache-users.js';
import type { Logger } from '../log/logger.js';
import { readRteState, rteFile, transition, type RteRecord, type RteState } from './rte-state.js';

/** What a sweep may remove. */
export interface SweepOptions {
  /** an INSTALLED package not used for longer than this is removed (catalogue.rteExpirySeconds) */
  expirySeconds: number;
  /** remove every unused INSTALLED package, expired or not (FAILED ones stay) */
  force: boolean;
  /** epoch ms to judge expiry against (tests) */
  now?: number;
  log?: Logger;
  /**
   * this node's state directory: when given, use records of this node's jobs whose job
   * directory is gone are dropped first (the rule of `vmbatch images prune`); without it every
   * record counts as a job that still runs
   */
  stateDir?: string;
}

/** What the sweep did with one package: removed it, kept it, or keeps it REMOVAL_PENDING until its jobs end. */
export interface SweepAction {
  name: string;
  url: string;
  /** the state before the sweep */
  state: RteState;
  action: 'removed' | 'kept' | 'pending';
  reason: string;
}

/**
 * The Janitor's sweep over this cache's runtime environment packages, each under its entry's
 * lock: FAILED ones are kept; ones in use are kept (an expired INSTALLED one becomes
 * REMOVAL_PENDING so no new job takes it); unused ones that are REMOVAL_PENDING, expired
 * (or any with `force`) or not installed are removed. An entry whose lock is held (a prologue
 * fetching it or starting to use it) is skipped, not waited for: the next sweep looks again.
 */
export async function sweepRtes(cacheDir: string, options: SweepOptions): Promise<SweepAction[]> {
  const now = options.now ?? Date.now();
  const actions: SweepAction[] = [];
  for (const listing of listCache(cacheDir)) {
    if (listing.kind !== 'download' || !existsSync(rteFile(listing.paths))) continue;
    const action = await sweepEntry(listing.paths, options, now);
    if (!action) continue;
    options.log?.info(`sweep: ${action.action}`, { rte: action.name, url: action.url, state: action.state, reason: action.reason });
    actions.push(action);
  }
  return actions;
}

async function sweepEntry(paths: EntryPaths, options: SweepOptions, now: number): Promise<SweepAction | undefined> {
  try {
    return await withFileLock(paths.lock, { timeoutMs: 0, purpose: 'sweeping runtime environments' }, async () => decide(paths, options, now));
  } catch (error) {
    if (!isVmbatchError(error, 'CACHE_LOCK_TIMEOUT')) throw error;
    const record = readRteState(paths);
    if (!record) return undefined;
    return { ...about(record), action: 'kept', reason: 'busy: a job holds its lock (fetching it or starting to use it); the next sweep looks again' };
  }
}

// Called with the entry's lock held: nothing below races with a prologue adding its use record.
function decide(paths: EntryPaths, options: SweepOptions, now: number): SweepAction | undefined {
  const record = readRteState(paths);
  if (!record) {
    // removed since the listing; taking the lock made its directory again, which goes again
    if (readdirSync(paths.dir).every((name) => name === 'lock')) removeLockedEntry(paths);
    return undefined;
  }
  const base = about(record);
  if (record.state === 'FAILED') return { ...base, action: 'kept', reason: 'failed: kept until an admin changes its state' };
  if (record.state === 'REMOVING') return remove(paths, base, 'a removal that did not finish');
  let users = entryUsers(paths);
  if (options.stateDir) {
    const stale = staleEntryUsers(users, options.stateDir);
    for (const user of stale) removeEntryUser(paths, user);
    users = users.filter((u) => !stale.includes(u));
  }
  const idleSeconds = Math.floor((now - (entryLastUsed(paths)?.getTime() ?? 0)) / 1000);
  const expired = idleSeconds > options.expirySeconds;
  if (users.length) {
    const inUse = `in use by ${users.join(', ')}`;
    if (record.state === 'REMOVAL_PENDING') return { ...base, action: 'pending', reason: `removal pending; ${inUse}` };
    if (record.state === 'INSTALLED' && expired) {
      transition(paths, 'REMOVAL_PENDING', 'sweep', `unused by new jobs for ${idleSeconds} s (expiry ${options.expirySeconds} s)`);
      return { ...base, action: 'pending', reason: `expired (last used ${idleSeconds} s ago) but ${inUse}: not given to new jobs, removed once unused` };
    }
    return { ...base, action: 'kept', reason: inUse };
  }
  switch (record.state) {
    case 'REMOVAL_PENDING':
      return remove(paths, base, 'removal pending and no longer in use');
    case 'INSTALLED':
      if (expired) return remove(paths, base, `unused for ${idleSeconds} s (expiry ${options.expirySeconds} s)`);
      if (options.force) return remove(paths, base, 'unused (forced)');
      return { ...base, action: 'kept', reason: `last used ${idleSeconds} s ago (expiry ${options.expirySeconds} s)` };
    default:
      // INSTALLABLE (reset by an admin) or INSTALLING with the lock free: an install that died
      return remove(paths, base, 'not installed (an install that did not finish, or reset by an admin)');
  }
}

// REMOVING first, so that a reader without the lock sees what is happening; then the entry
// goes as prune removes one, lock file included (see removeLockedEntry).
function remove(paths: EntryPaths, base: Omit<SweepAction, 'action' | 'reason'>, reason: string): SweepAction {
  transition(paths, 'REMOVING', 'sweep', reason);
  removeLockedEntry(paths);
  return { ...base, action: 'removed', reason };
}

function about(record: RteRecord): Omit<SweepAction, 'action' | 'reason'> {
  return { name: record.name, url: record.url, state: record.state };
}
