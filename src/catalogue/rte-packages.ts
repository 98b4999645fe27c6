import { existsSync } from 'node:fs';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { withFileLock } from '../fsutil/file-lock.js';
import type { CacheContext } from '../images/cache-context.js';
import { entryKey, entryPaths, readEntryMeta, type EntryPaths } from '../images/cache-entry.js';
import { removeEntryUser } from '../images/cache-users.js';
import { ensureCachedImage } from '../images/ensure-cached.js';
import type { ImageSource } from '../images/image-source.js';
import { readRteState, refusalReason, rteFile, transition, type RteActor, type RteIdentity, type RteRecord } from './rte-state.js';

/** A package of a catalogue to provide: its identity and an optional check of the downloaded file (returns the problems). */
export interface RtePackage extends RteIdentity {
  /** further URLs of the same file, tried in order when `url` cannot be downloaded */
  mirrors?: string[];
  check?: (file: string) => Promise<string[]>;
}

/** A package in the cache that the job now uses. */
export interface RtePackageFile {
  file: string;
  paths: EntryPaths;
}

// Lock waits for recording an outcome once the prologue's budget is spent: the outcome of a
// download that took the whole budget is still worth keeping.
const markTimeoutMs = 10_000;

// Permanent errors that are the site's, not the package's: they must not mark it FAILED.
const siteProblems = new Set<string>(['TOOL_MISSING']);

/** The entry of a package's download URL. */
export function rtePaths(cacheDir: string, url: string): EntryPaths {
  return entryPaths(cacheDir, 'download', entryKey(url));
}

/**
 * Provides a runtime environment's package from the shared cache and records the job as its
 * user (released by teardown like any cache use). A FAILED package is refused (RTE_FAILED),
 * one being removed too (RTE_REMOVAL_PENDING, transient). The state is read and changed under
 * the entry's lock, which ensureCachedImage takes on its own between the two short sections
 * here: INSTALLING before the fetch, INSTALLED (after `check`) or FAILED after it.
 */
export async function ensureRtePackage(ctx: CacheContext, pkg: RtePackage): Promise<RtePackageFile> {
  const identity: RteIdentity = { name: pkg.name, instance: pkg.instance, url: pkg.url, kind: pkg.kind };
  const paths = rtePaths(ctx.cacheDir, pkg.url);
  // a refusal needs no lock: only an admin or the sweep ends these states. REMOVING is the
  // exception: a live sweep holds the lock while it deletes, so waiting for the lock (moments)
  // beats requeueing the job; under the lock it is what a dead sweep left, and refused there.
  const seen = readRteState(paths);
  if (seen?.state !== 'REMOVING') throwIfRefused(seen, pkg.name);
  const budget = () => ({ timeoutMs: Math.max(0, ctx.deadline - Date.now()), purpose: `job ${ctx.jobRef} installing ${pkg.name}` });
  await withFileLock(paths.lock, budget(), async () => {
    const record = readRteState(paths);
    throwIfRefused(record, pkg.name);
    // a complete entry that is INSTALLED needs nothing; one marked INSTALLING by a job that
    // got it complete is settled by the check after the fetch (that job's or ours)
    if (isComplete(paths) && (record?.state === 'INSTALLED' || record?.state === 'INSTALLING')) return;
    // INSTALLABLE, or an INSTALLING whose job died (we hold the lock, the data is incomplete)
    transition(paths, 'INSTALLING', ctx.jobRef, undefined, identity);
  });
  const source: ImageSource = { url: pkg.url, mirrors: pkg.mirrors, hash: undefined, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined };
  try {
    await ensureCachedImage(ctx, source, 'raw');
  } catch (error) {
    await recordFetchFailure(ctx, paths, identity, error);
    throw error;
  }
  return withFileLock(paths.lock, { ...budget(), timeoutMs: Math.max(markTimeoutMs, ctx.deadline - Date.now()) }, async () => {
    const record = readRteState(paths);
    try {
      // an admin (or another job's failed install) may have changed the state meanwhile
      throwIfRefused(record, pkg.name);
      if (record?.state !== 'INSTALLED') {
        const problems = pkg.check ? await pkg.check(paths.data) : [];
        if (problems.length) {
          transition(paths, 'FAILED', ctx.jobRef, `not a valid runtime environment: ${problems.join('; ')}`, identity);
          throw new VmbatchError('RTE_PACKAGE_INVALID', { name: pkg.name, url: pkg.url, problems });
        }
        transition(paths, 'INSTALLED', ctx.jobRef, undefined, identity);
      }
    } catch (error) {
      // the job will not use it: the use record goes now (teardown's release is idempotent)
      removeEntryUser(paths, ctx.jobRef);
      throw error;
    }
    return { file: paths.data, paths };
  });
}

/**
 * Marks a package FAILED because its control/install failed in the guest (the prologue calls
 * it with the guest's report). A package already FAILED keeps its first reason. Resolves to the
 * record, or undefined when the cache has no record of the package (nothing to mark).
 */
export async function markRteFailed(cacheDir: string, url: string, name: string, reason: string, by: RteActor): Promise<RteRecord | undefined> {
  const paths = rtePaths(cacheDir, url);
  if (!existsSync(rteFile(paths))) return undefined;
  return withFileLock(paths.lock, { timeoutMs: markTimeoutMs, purpose: `${by} marking ${name} FAILED` }, async () => {
    const record = readRteState(paths);
    if (!record || record.state === 'FAILED') return record;
    const refused = refusalReason(record.state, 'FAILED', by);
    if (refused) throw new VmbatchError('RTE_STATE_REFUSED', { name, from: record.state, to: 'FAILED', reason: refused });
    return transition(paths, 'FAILED', by, reason);
  });
}

// FAILED and REMOVAL_PENDING are not given to jobs; neither is REMOVING (the sweep is at work,
// or died at work: the next sweep finishes it).
function throwIfRefused(record: RteRecord | undefined, name: string): void {
  if (record?.state === 'FAILED') throw new VmbatchError('RTE_FAILED', { name, since: record.since, reason: record.reason ?? 'no reason was recorded' });
  if (record?.state === 'REMOVAL_PENDING' || record?.state === 'REMOVING') throw new VmbatchError('RTE_REMOVAL_PENDING', { name });
}

function isComplete(paths: EntryPaths): boolean {
  return readEntryMeta(paths) !== undefined && existsSync(paths.data);
}

// A permanent refusal of the package (HTTP status, redirect loop, size) marks it FAILED with
// the error's message; anything else (transient, or not the package's fault) only takes back
// this job's INSTALLING mark, so the next job tries again.
async function recordFetchFailure(ctx: CacheContext, paths: EntryPaths, identity: RteIdentity, error: unknown): Promise<void> {
  const permanent = isVmbatchError(error) && error.kind === 'permanent' && !siteProblems.has(error.code);
  try {
    if (permanent) {
      await withFileLock(paths.lock, { timeoutMs: markTimeoutMs, purpose: `job ${ctx.jobRef} marking ${identity.name} FAILED` }, async () => {
        const record = readRteState(paths);
        // another job's mark wins: it saw the same refusal first
        if (record?.state !== 'FAILED') transition(paths, 'FAILED', ctx.jobRef, (error as Error).message, identity);
      });
      return;
    }
    // a failed download removed the half-made entry with its rte.json: nothing is left to undo
    if (!existsSync(rteFile(paths))) return;
    // best effort: a job holding the lock now is fetching it and will settle the state
    await withFileLock(paths.lock, { timeoutMs: 0, purpose: `job ${ctx.jobRef} undoing its INSTALLING mark` }, async () => {
      const record = readRteState(paths);
      if (record?.state === 'INSTALLING' && record.by === ctx.jobRef && !isComplete(paths)) {
        transition(paths, 'INSTALLABLE', ctx.jobRef, error instanceof Error ? error.message : String(error));
      }
    });
  } catch (markError) {
    // the fetch's error is the one the job reports; the state stays as it was
    ctx.log.error('cannot record the outcome of fetching a runtime environment', {
      rte: identity.name,
      url: identity.url,
      error: markError instanceof Error ? markError.message : String(markError),
    });
  }
}
