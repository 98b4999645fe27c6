import type { Reservation } from '../state/reservations.js';
import type { CacheMark, JobFacts, NodeFacts } from './node-facts.js';

/** Why an item belongs to no live job. */
export type StaleReason =
  | 'from an earlier boot'
  | 'the batch system no longer has the job'
  | 'its prologue ended and it has no guest'
  | 'no job directory'
  | 'the images fetch that made it no longer runs'
  | 'the job that took it from the pool is gone';

/** One thing of the node that belongs to no live job, and why: a plain value a dry run prints. */
export type ReconcileItem =
  | { kind: 'domain'; name: string; jobId: string; reason: StaleReason }
  | { kind: 'seeding'; mark: CacheMark; reason: StaleReason }
  | { kind: 'cache-use'; mark: CacheMark; reason: StaleReason }
  | { kind: 'reservation'; reservation: Reservation; reason: StaleReason }
  | { kind: 'attempts'; jobId: string; file: string; reason: StaleReason }
  | { kind: 'job'; jobId: string; dir: string; reason: StaleReason }
  | { kind: 'libvirt-log'; jobId: string; file: string; reason: StaleReason };

// A directory without an owner record this young may be one a prologue is making right now.
const makingGraceMs = 60_000;

/**
 * Decides, from a snapshot of the node, what belongs to no live job. A job of an earlier boot
 * is dead. A job of this boot is live while its prologue runs; then, with an oracle
 * (torque.momPriv), while the batch system still has it; without one, while its guest exists.
 * Domains, reservations and cache marks follow their job; those of a job that has no directory
 * belong to nobody (a prologue makes the directory before any of them). The order is the
 * teardown's: guests first, the job directory (overlays) last.
 */
export function planReconcile(facts: NodeFacts): ReconcileItem[] {
  const jobs = new Map(facts.jobs.map((j) => [j.jobId, j]));
  const dead = new Map<string, StaleReason>();
  for (const job of facts.jobs) {
    const reason = jobVerdict(job, facts);
    if (reason) dead.set(job.jobId, reason);
  }
  // a pool guest a job took lives and dies with that job
  for (const job of facts.jobs) {
    if (!job.pool || !('claimedBy' in job.pool) || dead.has(job.jobId)) continue;
    const claimer = job.pool.claimedBy;
    if (!jobs.has(claimer) || dead.has(claimer)) dead.set(job.jobId, 'the job that took it from the pool is gone');
  }
  // a mark or reservation of a job: undefined while the job is live
  const ofJob = (jobId: string, bootId: string | undefined): StaleReason | undefined => {
    if (bootId !== undefined && bootId !== facts.bootId) return 'from an earlier boot';
    if (!jobs.has(jobId)) return 'no job directory';
    return dead.get(jobId);
  };
  const ofMark = (mark: CacheMark): StaleReason | undefined => {
    if (/^fetch-\d+$/.test(mark.jobId)) return facts.liveFetches.includes(mark.jobId) ? undefined : 'the images fetch that made it no longer runs';
    return ofJob(mark.jobId, undefined);
  };
  const items: ReconcileItem[] = [];
  for (const name of facts.domains) {
    const jobId = name.slice('vmbatch-'.length);
    const reason = ofJob(jobId, undefined);
    if (reason) items.push({ kind: 'domain', name, jobId, reason });
  }
  for (const mark of facts.seedings) {
    const reason = ofMark(mark);
    if (reason) items.push({ kind: 'seeding', mark, reason });
  }
  for (const mark of facts.cacheUses) {
    const reason = ofMark(mark);
    if (reason) items.push({ kind: 'cache-use', mark, reason });
  }
  for (const reservation of facts.reservations) {
    // a reservation older than the boot is of an earlier one, whatever it records
    const reason = reservation.bootId === undefined && reservation.mtimeMs < facts.bootTimeMs ? 'from an earlier boot' : ofJob(reservation.jobId, reservation.bootId);
    if (reason) items.push({ kind: 'reservation', reservation, reason });
  }
  // a counter outlives its job directory on purpose (requeues): only an earlier boot ends it
  for (const attempt of facts.attempts) {
    const earlier = attempt.bootId !== undefined ? attempt.bootId !== facts.bootId : attempt.mtimeMs < facts.bootTimeMs;
    if (earlier) items.push({ kind: 'attempts', jobId: attempt.jobId, file: attempt.file, reason: 'from an earlier boot' });
  }
  for (const job of facts.jobs) {
    const reason = dead.get(job.jobId);
    if (reason) items.push({ kind: 'job', jobId: job.jobId, dir: job.dir, reason });
  }
  // libvirt's log of a job's domain outlives the domain: it goes with the job (after its domain)
  for (const log of facts.libvirtLogs) {
    const reason = ofJob(log.jobId, undefined);
    if (reason) items.push({ kind: 'libvirt-log', jobId: log.jobId, file: log.file, reason });
  }
  return items;
}

// Why a job is dead, or undefined while it is live.
function jobVerdict(job: JobFacts, facts: NodeFacts): StaleReason | undefined {
  const earlier = job.bootId !== undefined ? job.bootId !== facts.bootId : job.dirMtimeMs < facts.bootTimeMs;
  if (earlier) return 'from an earlier boot';
  if (job.prologueAlive) return undefined;
  if (!job.hasOwnerRecord && facts.now - job.dirMtimeMs < makingGraceMs) return undefined;
  // a pool guest taken by a job: its job decides (planReconcile)
  if (job.pool && 'claimedBy' in job.pool) return undefined;
  if (job.batchSystemHas !== undefined) return job.batchSystemHas ? undefined : 'the batch system no longer has the job';
  return facts.domains.includes(`vmbatch-${job.jobId}`) ? undefined : 'its prologue ended and it has no guest';
}

/** What an item is, in words (the printed and logged line). */
export function describeItem(item: ReconcileItem): string {
  switch (item.kind) {
    case 'domain':
      return `domain ${item.name}`;
    case 'seeding':
      return `seeding mark of ${item.mark.entryDir} (${item.mark.jobRef})`;
    case 'cache-use':
      return `cache use record ${item.mark.file}`;
    case 'reservation':
      return `reservation ${item.reservation.kind}/${item.reservation.name} of job ${item.reservation.jobId}`;
    case 'attempts':
      return `attempt counter ${item.file}`;
    case 'job':
      return `job directory ${item.dir}`;
    case 'libvirt-log':
      return `libvirt log ${item.file}`;
  }
}

/** The job an item belongs to. */
export function itemJobId(item: ReconcileItem): string {
  switch (item.kind) {
    case 'seeding':
    case 'cache-use':
      return item.mark.jobId;
    case 'reservation':
      return item.reservation.jobId;
    default:
      return item.jobId;
  }
}
