import { createReadStream, existsSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { jobPaths } from '../state/job-paths.js';
import { entryPaths, readEntryMeta, type EntryKind, type EntryMeta, type EntryPaths } from './cache-entry.js';
import { entryUsers, parseJobRef, removeEntryUser } from './cache-users.js';
import { createDigest } from './hash-spec.js';

/** One entry of the cache as `vmbatch images list` shows it. */
export interface CacheListing {
  kind: EntryKind;
  paths: EntryPaths;
  /** undefined: incomplete (a download in progress, or one that died) */
  meta: EntryMeta | undefined;
  /** bytes the entry takes on disk (sparse files count what they use) */
  diskBytes: number;
  lastUsed: Date | undefined;
  users: string[];
  seeding: boolean;
}

/** Every entry of the cache, complete or not. */
export function listCache(cacheDir: string): CacheListing[] {
  const listings: CacheListing[] = [];
  for (const kind of ['download', 'created'] as const) {
    const base = join(cacheDir, kind === 'download' ? 'images' : 'created');
    let keys: string[] = [];
    try {
      keys = readdirSync(base).sort();
    } catch {
      continue;
    }
    for (const key of keys) {
      const paths = entryPaths(cacheDir, kind, key);
      listings.push({
        kind,
        paths,
        meta: readEntryMeta(paths),
        diskBytes: diskUsage(paths.dir),
        lastUsed: entryLastUsed(paths),
        users: entryUsers(paths),
        seeding: existsSync(paths.seeding),
      });
    }
  }
  return listings;
}

/** The outcome of verifying one entry. */
export interface VerifyResult {
  listing: CacheListing;
  verdict: 'ok' | 'corrupt' | 'incomplete' | 'unchecked';
  detail: string;
}

/** Reads every complete downloaded entry once and compares it with the digest stored at download. */
export async function verifyCache(cacheDir: string): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  for (const listing of listCache(cacheDir)) {
    const { meta, paths } = listing;
    if (!meta) {
      results.push({ listing, verdict: 'incomplete', detail: 'no record: a download in progress or one that died' });
      continue;
    }
    const expected = meta.digests[0];
    if (!expected) {
      results.push({ listing, verdict: 'unchecked', detail: 'a created disk has no digest' });
      continue;
    }
    const digest = createDigest(expected.algorithm);
    try {
      await pipeline(createReadStream(paths.data, { highWaterMark: 4 << 20 }), async function (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) digest.update(chunk);
      });
    } catch (error) {
      results.push({ listing, verdict: 'corrupt', detail: `cannot read the data: ${(error as Error).message}` });
      continue;
    }
    const actual = digest.digest('hex');
    results.push(
      actual === expected.value
        ? { listing, verdict: 'ok', detail: `${expected.algorithm} matches` }
        : { listing, verdict: 'corrupt', detail: `${expected.algorithm} is ${actual}, recorded ${expected.value}` },
    );
  }
  return results;
}

/** What prune may remove. */
export interface PruneRules {
  /** remove entries not used for longer than this */
  olderThanMs: number | undefined;
  /** then remove the least recently used until the cache holds at most this */
  maxBytes: number | undefined;
  /** entries to remove whatever their age (e.g. corrupt ones found by verify) */
  also?: Set<string>;
  dryRun: boolean;
  /** this node's state directory, to tell its finished jobs' stale use records */
  stateDir: string;
  now?: number;
}

/** One entry prune removed (or would remove), and why. */
export interface PruneAction {
  listing: CacheListing;
  reason: string;
}

/**
 * Removes entries by age and size, least recently used first; never an entry a job uses.
 * Use records of this node's jobs that no longer exist are dropped first; records of other
 * nodes are kept (only those nodes can tell). Each removal holds the entry's lock, and an
 * entry whose lock is taken (being downloaded or used right now) is skipped.
 */
export async function pruneCache(cacheDir: string, rules: PruneRules): Promise<PruneAction[]> {
  const now = rules.now ?? Date.now();
  const here = hostname();
  const listings = listCache(cacheDir);
  const actions: PruneAction[] = [];
  for (const l of listings) {
    const stale = staleEntryUsers(l.users, rules.stateDir, here);
    if (!rules.dryRun) for (const u of stale) removeEntryUser(l.paths, u);
    l.users = l.users.filter((u) => !stale.includes(u));
  }
  const free = listings.filter((l) => l.users.length === 0 && !l.seeding);
  for (const l of free) {
    // an RTE package's record without data is its FAILED mark: only `catalogue setstate` clears it
    if (!l.meta && existsSync(join(l.paths.dir, 'rte.json'))) continue;
    if (!l.meta) actions.push({ listing: l, reason: 'a download that did not finish' });
    else if (rules.also?.has(l.paths.dir)) actions.push({ listing: l, reason: 'corrupt' });
    else if (rules.olderThanMs !== undefined && now - (l.lastUsed?.getTime() ?? 0) > rules.olderThanMs) actions.push({ listing: l, reason: 'unused for too long' });
  }
  if (rules.maxBytes !== undefined) {
    let total = listings.reduce((sum, l) => sum + l.diskBytes, 0) - actions.reduce((sum, a) => sum + a.listing.diskBytes, 0);
    const byAge = free.filter((l) => !actions.some((a) => a.listing === l)).sort((a, b) => (a.lastUsed?.getTime() ?? 0) - (b.lastUsed?.getTime() ?? 0));
    for (const l of byAge) {
      if (total <= rules.maxBytes) break;
      actions.push({ listing: l, reason: 'least recently used over the size limit' });
      total -= l.diskBytes;
    }
  }
  if (rules.dryRun) return actions;
  const done: PruneAction[] = [];
  for (const action of actions) {
    const { paths } = action.listing;
    try {
      await withFileLock(paths.lock, { timeoutMs: 0, purpose: 'pruning' }, async () => {
        // a job may have started to use it since the listing
        if (entryUsers(paths).length === 0 && !existsSync(paths.seeding)) {
          removeLockedEntry(paths);
          done.push(action);
        }
      });
    } catch (error) {
      if (!isVmbatchError(error, 'CACHE_LOCK_TIMEOUT')) throw error;
    }
  }
  return done;
}

/**
 * The use records of this node's jobs that are over (their job directory is gone, e.g. a job
 * whose teardown never ran); records of other nodes are never judged here: only they can tell.
 */
export function staleEntryUsers(users: string[], stateDir: string, here = hostname()): string[] {
  return users.filter((u) => parseJobRef(u).host === here && !existsSync(jobPaths(stateDir, parseJobRef(u).jobId).dir));
}

/** When a job last started to use the entry (last-used's mtime, else when it was completed). */
export function entryLastUsed(paths: EntryPaths): Date | undefined {
  return mtimeOf(paths.lastUsed) ?? mtimeOf(paths.meta);
}

/**
 * Removes an entry, lock file included; only the holder of the entry's lock may call it. The
 * record goes first (the entry is incomplete from then on), the lock file last. A process
 * waiting on the removed lock file then gets a lock on a file that is no longer at its path,
 * which acquireFileLock notices (inode check) and takes the new entry's lock instead, so two
 * holders never work on one entry. A process that arrives once the lock file is gone makes a
 * new one in the directory, which then stays: it is that process's entry now.
 */
export function removeLockedEntry(paths: EntryPaths): void {
  rmSync(paths.meta, { force: true });
  let names: string[];
  try {
    names = readdirSync(paths.dir);
  } catch {
    return;
  }
  // nobody else writes here while we hold the lock, so this is everything but the lock file
  for (const name of names) if (join(paths.dir, name) !== paths.lock) rmSync(join(paths.dir, name), { recursive: true, force: true });
  rmSync(paths.lock, { force: true });
  try {
    rmdirSync(paths.dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw error;
  }
}

function diskUsage(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name));
      if (st.isFile()) total += st.blocks * 512;
    }
  } catch {
    // a removed entry uses nothing
  }
  return total;
}

function mtimeOf(file: string): Date | undefined {
  try {
    return statSync(file).mtime;
  } catch {
    return undefined;
  }
}
