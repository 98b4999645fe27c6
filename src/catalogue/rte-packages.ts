import { existsSync } from 'node:fs';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { withFileLock } from '../fsutil/file-lock.js';
import type { CacheContext } from '../images/cache-context.js';
import { entryKey, entryPaths, readEntryMeta, type EntryPaths } from '../images/cache-entry.js';
import { removeEntryUser } from '../images/cache-users.js';
import { ensureCachedImage } from '../images/ensure-cached.js';
import type { ImageSource } from '../images/image-source.js';
import { readRteState, refusalReason, rteFile, rteGuestFailuresKept, transition, writeRteState, type RteActor, type RteIdentity, type RteRecord } from './rte-state.js';

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

/** The FAILED reason other users see when guests' reports marked a package: vmbatch's words, never a guest's. */
export function guestFailuresReason(users: number): string {
  return `the installation failed in the guests of ${users} different users' jobs; see the node's log`;
}

/** What a guest's report of a failed install did: the record after it, and whether it marked the package FAILED now. */
export interface GuestFailureOutcome {
  record: RteRecord;
  /** the distinct users whose guests reported it since it last worked */
  users: number;
  markedFailed: boolean;
}

/**
 * Records that the guest of job `by`, submitted by `uid`, reported the package's control/install
 * failing. A guest is its submitter's to control, so one user's reports, however many, change
 * nothing for others: the package becomes FAILED only once the guests of `threshold` different
 * users reported it (distinct uids, kept in rte.json under the entry's lock), with vmbatch's
 * reason. Undefined when the cache has no record of the package (nothing to record).
 */
export async function recordGuestRteFailure(cacheDir: string, pkg: { url: string; name: string }, report: { uid: number; by: RteActor }, threshold: number): Promise<GuestFailureOutcome | undefined> {
  const paths = rtePaths(cacheDir, pkg.url);
  if (!existsSync(rteFile(paths))) return undefined;
  return withFileLock(paths.lock, { timeoutMs: markTimeoutMs, purpose: `${report.by} recording a guest failure of ${pkg.name}` }, async () => {
    const record = readRteState(paths);
    if (!record) return undefined;
    if (record.state === 'FAILED') return { record, users: record.guestFailures?.length ?? 0, markedFailed: false };
    // one entry per user: a user's later report replaces their earlier one
    const failures = [...(record.guestFailures ?? []).filter((f) => f.uid !== report.uid), { uid: report.uid, by: report.by, time: new Date().toISOString() }].slice(-rteGuestFailuresKept);
    writeRteState(paths, { ...record, guestFailures: failures });
    // FAILED only from a state the table lets a job fail (an INSTALLING by another job settles first)
    if (failures.length >= threshold && refusalReason(record.state, 'FAILED', report.by) === undefined) {
      return { record: transition(paths, 'FAILED', report.by, guestFailuresReason(failures.length)), users: failures.length, markedFailed: true };
    }
    return { record: readRteState(paths) ?? record, users: failures.length, markedFailed: false };
  });
}

/**
 * A guest installed the package and reported ready: the reports of failures before are
 * forgotten (the count starts again). Reads without the lock first, so the usual case, no
 * reports, costs one small read.
 */
export async function clearGuestRteFailures(cacheDir: string, pkg: { url: string; name: string }, by: RteActor): Promise<void> {
  const paths = rtePaths(cacheDir, pkg.url);
  if (!readRteState(paths)?.guestFailures?.length) return;
  await withFileLock(paths.lock, { timeoutMs: markTimeoutMs, purpose: `${by} clearing the guest failures of ${pkg.name}` }, async () => {
    const record = readRteState(paths);
    // FAILED keeps its evidence; the admin's reset clears it
    if (!record?.guestFailures?.length || record.state === 'FAILED') return;
    const { guestFailures: _cleared, ...rest } = record;
    writeRteState(paths, rest);
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
