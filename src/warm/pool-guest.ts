import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { acquireFileLock } from '../fsutil/file-lock.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { readJsonRecord } from '../fsutil/read-json.js';
import { jobPaths, type JobPaths } from '../state/job-paths.js';
import { warmEntryName, warmRoot } from './warm-paths.js';

// pool-KEY12-N: the saved state's key and the guest's number; never a batch system's job id
const poolGuestIdPattern = /^pool-[0-9a-f]{12}-[0-9]+$/;

/** Whether `id` names a pool guest (its directory is STATEDIR/jobs/ID, its domain vmbatch-ID). */
export function isPoolGuestId(id: string): boolean {
  return poolGuestIdPattern.test(id);
}

/** The id of waiting guest number `n` of the saved state `key`. */
export function poolGuestId(key: string, n: number): string {
  return `pool-${key.slice(0, 12)}-${n}`;
}

/** A pool guest's record (pool.json in its directory, root's): written once its guest waits, claimed by one job. */
export const poolGuestSchema = z.object({
  version: z.literal(1),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  template: z.string(),
  /** when it began to wait (ISO time) */
  waitingSince: z.string(),
  /** seconds it may wait for a job (<vbwarmstart idle>) */
  idleSeconds: z.number().int().positive(),
  /** the CD-ROM drive a job's context is inserted in */
  cdromTarget: z.string().regex(/^[A-Za-z0-9]+$/),
  /** its qemu's identity: a job's files for it are handed to this uid and gid */
  uid: z.number().int().positive(),
  gid: z.number().int().nonnegative(),
  /** the job that took it; from then on the guest is that job's and ends with it */
  claimedBy: z.string().optional(),
});
/** A pool guest's record. */
export type PoolGuestRecord = z.infer<typeof poolGuestSchema>;

/** One pool guest on the node: its id, paths and record (undefined while it is being made, or once retired). */
export interface PoolGuest {
  id: string;
  paths: JobPaths;
  record: PoolGuestRecord | undefined;
}

/** A pool guest's record file. */
export function poolGuestFile(dir: string): string {
  return join(dir, 'pool.json');
}

/** The lock under which a state's waiting guests are claimed or retired (short: a prologue waits on it). */
export function poolClaimLock(stateDir: string, key: string): string {
  return join(warmRoot(stateDir), `.${warmEntryName(key)}.pool.lock`);
}

/** The lock one filler of a state's pool holds while it makes guests (others leave the work to it). */
export function poolFillLock(stateDir: string, key: string): string {
  return join(warmRoot(stateDir), `.${warmEntryName(key)}.fill.lock`);
}

/** Every pool guest directory of the node, with its record. */
export function listPoolGuests(stateDir: string): PoolGuest[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir, 'jobs')).filter(isPoolGuestId).sort();
  } catch {
    return [];
  }
  return names.map((id) => {
    const paths = jobPaths(stateDir, id);
    return { id, paths, record: readJsonRecord(poolGuestFile(paths.dir), poolGuestSchema) };
  });
}

/** The pool guests `jobId` took (normally none or one): they end with the job. */
export function poolGuestsOf(stateDir: string, jobId: string): PoolGuest[] {
  return listPoolGuests(stateDir).filter((g) => g.record?.claimedBy === jobId);
}

/** A pool guest that waits for a job. */
export type WaitingGuest = PoolGuest & { record: PoolGuestRecord };

/** Whether a pool guest waits for a job (its record is whole and nobody took it). */
export function isWaiting(guest: PoolGuest): guest is WaitingGuest {
  return guest.record !== undefined && guest.record.claimedBy === undefined;
}

/** Whether a waiting guest has waited past its idle limit at `now` (epoch ms). */
export function idleExpired(record: PoolGuestRecord, now: number): boolean {
  return now >= Date.parse(record.waitingSince) + record.idleSeconds * 1000;
}

// a prologue waits this long for the pool's lock before it starts without the pool
const claimLockMs = 3000;

/**
 * Takes the oldest waiting guest of the saved state `key` for `jobId`, under the pool's lock:
 * two jobs never take one guest. Its record names the job from then on, so the job's teardown
 * (and reconcile, should the job die unseen) ends it. Undefined when none waits.
 */
export async function claimPoolGuest(stateDir: string, key: string, jobId: string): Promise<WaitingGuest | undefined> {
  let lock;
  try {
    lock = await acquireFileLock(poolClaimLock(stateDir, key), { timeoutMs: claimLockMs, purpose: `vmbatch prologue of job ${jobId} taking a pool guest` });
  } catch {
    return undefined;
  }
  try {
    const now = Date.now();
    const guest = listPoolGuests(stateDir)
      .filter(isWaiting)
      .filter((g) => g.record.key === key && !idleExpired(g.record, now))
      .sort((a, b) => a.record.waitingSince.localeCompare(b.record.waitingSince))[0];
    if (!guest) return undefined;
    const record: PoolGuestRecord = { ...guest.record, claimedBy: jobId };
    writePoolGuestRecord(guest.paths.dir, record);
    return { ...guest, record };
  } finally {
    lock.release();
  }
}

/**
 * Takes waiting guests out of the pool (`which` picks them), under the pool's lock: their
 * records go, so no job takes them; the caller then ends them (teardownJob). Returns them.
 */
export async function retirePoolGuests(stateDir: string, key: string, which: (guest: WaitingGuest) => boolean): Promise<PoolGuest[]> {
  const lock = await acquireFileLock(poolClaimLock(stateDir, key), { timeoutMs: 60_000, purpose: 'vmbatch retiring pool guests' });
  try {
    const retired = listPoolGuests(stateDir)
      .filter(isWaiting)
      .filter((g) => g.record.key === key && which(g));
    for (const g of retired) rmSync(poolGuestFile(g.paths.dir), { force: true });
    return retired;
  } finally {
    lock.release();
  }
}

/** Writes a pool guest's record atomically (root's, world-readable: it holds no secret). */
export function writePoolGuestRecord(dir: string, record: PoolGuestRecord): void {
  writeFileAtomic(poolGuestFile(dir), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
}

/** A pool guest as `vmbatch warm list` shows it. */
export function poolGuestLine(guest: PoolGuest): { id: string; key: string | undefined; template: string; status: string } {
  const r = guest.record;
  if (!r) return { id: guest.id, key: undefined, template: '-', status: 'being made or ended' };
  const status = r.claimedBy === undefined ? `waiting since ${r.waitingSince} (idle limit ${r.idleSeconds} s)` : `taken by job ${r.claimedBy}`;
  return { id: guest.id, key: r.key, template: r.template, status };
}
