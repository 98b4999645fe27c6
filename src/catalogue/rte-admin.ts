import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { listCache, type CacheListing } from '../images/cache-admin.js';
import type { EntryPaths } from '../images/cache-entry.js';
import { readRteState, refusalReason, rteFile, rteStateSchema, transition, type RteRecord, type RteState } from './rte-state.js';

/** One package of a runtime environment in this node's cache, as `vmbatch catalogue list` shows it. */
export interface RteListing {
  name: string;
  url: string;
  instance: string;
  kind: 'tar' | 'image';
  /** as it counts: an INSTALLING whose job died (lock free, data incomplete) is INSTALLABLE */
  state: RteState;
  since: string;
  /** who set the state (a job's HOST--JOBID, admin or sweep) */
  by: string;
  reason: string | undefined;
  /** the jobs recorded as using it (HOST--JOBID) */
  users: string[];
  lastUsed: Date | undefined;
  /** bytes the entry takes on disk */
  bytes: number;
  paths: EntryPaths;
}

/** Every runtime environment package in the cache, by name and URL. */
export function listRtes(cacheDir: string): RteListing[] {
  const rows: RteListing[] = [];
  for (const listing of rteEntries(cacheDir)) {
    const record = readRteState(listing.paths);
    if (!record) continue;
    let { state, reason } = record;
    if (state === 'INSTALLING' && !listing.meta && lockIsFree(listing.paths)) {
      state = 'INSTALLABLE';
      reason = `the install by ${record.by} did not finish`;
    }
    rows.push({
      name: record.name,
      url: record.url,
      instance: record.instance,
      kind: record.kind,
      state,
      since: record.since,
      by: record.by,
      reason,
      users: listing.users,
      lastUsed: listing.lastUsed,
      bytes: listing.diskBytes,
      paths: listing.paths,
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.url.localeCompare(b.url));
}

/** What an admin's change did to one package: `error` (RTE_STATE_REFUSED, CACHE_LOCK_TIMEOUT) when it was not made. */
export interface SetStateOutcome {
  name: string;
  url: string;
  from: RteState;
  to: RteState;
  error?: VmbatchError;
}

/**
 * The admin's `setstate`: changes every package of the runtime environment `nameOrUrl` (a
 * MetaPackage name, an instance URI or a download URL: a name may have several) to `to`, each
 * under its entry's lock. Allowed: FAILED → INSTALLABLE (its data goes, so the next job fetches
 * it again), INSTALLED → REMOVAL_PENDING, REMOVAL_PENDING → INSTALLED; anything else is refused
 * per package. No package of that name in the cache: RTE_STATE_REFUSED.
 */
export async function setRteState(cacheDir: string, nameOrUrl: string, state: string, options: { timeoutMs?: number } = {}): Promise<SetStateOutcome[]> {
  const parsed = rteStateSchema.safeParse(state);
  if (!parsed.success) throw new VmbatchError('USAGE_INVALID', { problems: [`'${state}' is not a state; the states are ${rteStateSchema.options.join(', ')}`] });
  const to = parsed.data;
  const matches = rteEntries(cacheDir).filter((l) => {
    const record = readRteState(l.paths);
    return record !== undefined && [record.name, record.instance, record.url].includes(nameOrUrl);
  });
  if (matches.length === 0) {
    throw new VmbatchError('RTE_STATE_REFUSED', { name: nameOrUrl, from: 'INSTALLABLE', to, reason: "no package of it is in this node's cache" });
  }
  const outcomes: SetStateOutcome[] = [];
  for (const { paths } of matches) {
    const seen = readRteState(paths);
    if (!seen) continue;
    const outcome: SetStateOutcome = { name: seen.name, url: seen.url, from: seen.state, to };
    try {
      await withFileLock(paths.lock, { timeoutMs: options.timeoutMs ?? 30_000, purpose: `admin setting ${seen.name} ${to}` }, async () => {
        const record = readRteState(paths);
        // swept since the listing: INSTALLABLE, and nothing is left to change
        if (!record) throw refusal(seen, 'INSTALLABLE', to, 'it was removed from the cache meanwhile');
        outcome.from = record.state;
        const refused = refusalReason(record.state, to, 'admin');
        if (refused) throw refusal(record, record.state, to, refused);
        // the record is written last, so a crash here leaves FAILED: the reset is simply repeated
        if (record.state === 'FAILED' && to === 'INSTALLABLE') for (const file of [paths.meta, paths.data]) rmSync(file, { force: true });
        transition(paths, to, 'admin');
      });
    } catch (error) {
      if (!isVmbatchError(error)) throw error;
      outcome.error = error;
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

function refusal(record: RteRecord, from: RteState, to: RteState, reason: string): VmbatchError {
  return new VmbatchError('RTE_STATE_REFUSED', { name: record.name, from, to, reason });
}

function rteEntries(cacheDir: string): CacheListing[] {
  return listCache(cacheDir).filter((l) => l.kind === 'download' && existsSync(rteFile(l.paths)));
}

// Whether nobody holds the entry's lock now: flock(1) tries it without waiting on our
// descriptor, which closing releases at once; a missing lock file is a free lock.
function lockIsFree(paths: EntryPaths): boolean {
  let fd: number;
  try {
    fd = openSync(paths.lock, 'r');
  } catch {
    return true;
  }
  try {
    const result = spawnSync('flock', ['-x', '-n', '-E', String(lockHeld), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (result.error) throw result.error;
    if (result.status !== 0 && result.status !== lockHeld) throw new Error(`flock on ${paths.lock} failed: ${result.stderr.toString().trim()}`);
    return result.status === 0;
  } finally {
    closeSync(fd);
  }
}

// flock's exit code when the lock is held by another
const lockHeld = 75;
