import { readFileTail } from '../fsutil/read-tail.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { listDomains, virsh } from '../hypervisor/virsh.js';
import { jobIdSchema } from '../job/names.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { listCache } from '../images/cache-admin.js';
import { parseJobRef } from '../images/cache-users.js';
import { readTrimmedText } from '../fsutil/read-text.js';
import { listAttempts, type AttemptRecord } from '../state/attempts.js';
import { bootTimeMs, currentBootId, processStartTicks } from '../state/boot-id.js';
import { jobPaths } from '../state/job-paths.js';
import { ownerAlive, readJobOwner } from '../state/job-owner.js';
import { readJobStateIfValid } from '../state/job-state.js';
import { listReservations, type Reservation } from '../state/reservations.js';
import { readJsonRecord } from '../fsutil/read-json.js';
import { isPoolGuestId, poolGuestFile, poolGuestSchema } from '../warm/pool-guest.js';

/** What the node holds of one job directory, read once. */
export interface JobFacts {
  jobId: string;
  dir: string;
  /** the boot the job's prologue ran in (its owner record, else its state); undefined when neither says */
  bootId: string | undefined;
  dirMtimeMs: number;
  hasOwnerRecord: boolean;
  prologueAlive: boolean;
  /** the batch system's word (torque.momPriv); undefined without an oracle, and for a pool guest */
  batchSystemHas: boolean | undefined;
  /** a pool guest's: waiting for a job, or the job that took it (undefined: not a pool guest, or its record is gone) */
  pool?: { waiting: true } | { claimedBy: string };
}

/** A job's mark in a cache entry (a use record, or the `seeding` mark of a create='once' disk), for this node's jobs only. */
export interface CacheMark {
  entryDir: string;
  file: string;
  lock: string;
  jobRef: string;
  jobId: string;
}

/** Everything `vmbatch reconcile` decides from: a snapshot of the node, no decision in it. */
export interface NodeFacts {
  bootId: string;
  bootTimeMs: number;
  now: number;
  oracle: 'torque' | 'none';
  jobs: JobFacts[];
  /** the libvirt domains called vmbatch-JOBID whose files are in this node's job directory of JOBID */
  domains: string[];
  reservations: Reservation[];
  attempts: AttemptRecord[];
  cacheUses: CacheMark[];
  seedings: CacheMark[];
  /** `images fetch` runs (jobRef fetch-PID) whose process still runs */
  liveFetches: string[];
  /** libvirt's logs of this node's job domains (none when the site keeps them: libvirtLog.keep) */
  libvirtLogs: { jobId: string; file: string }[];
}

/** Reads the node: job directories, domains, reservations of every kind, attempt counters, this node's marks in the image cache. */
export async function gatherNodeFacts(config: Config): Promise<NodeFacts> {
  const bootId = currentBootId();
  // the job directories are read last: a prologue makes its directory before its reservations,
  // cache records and domain, so whatever of a live prologue was seen, its directory is seen too
  const reservations = listReservations(config.stateDir);
  const attempts = listAttempts(config.stateDir);
  const { cacheUses, seedings } = cacheMarks(config);
  const domains = await ownDomains(config);
  const libvirtLogs = config.libvirtLog.keep ? [] : ownLibvirtLogs(config, domains);
  const fetches = [...cacheUses, ...seedings].map((m) => m.jobId).filter((id) => /^fetch-\d+$/.test(id));
  return {
    bootId,
    bootTimeMs: bootTimeMs(),
    now: Date.now(),
    oracle: config.torque.momPriv === undefined ? 'none' : 'torque',
    jobs: jobFacts(config, bootId),
    domains,
    reservations,
    attempts,
    cacheUses,
    seedings,
    liveFetches: [...new Set(fetches)].filter((id) => processStartTicks(Number(id.slice('fetch-'.length))) !== undefined),
    libvirtLogs,
  };
}

function jobFacts(config: Config, bootId: string): JobFacts[] {
  const momPriv = config.torque.momPriv;
  const jobs: JobFacts[] = [];
  for (const jobId of readdirOrEmpty(join(config.stateDir, 'jobs'))) {
    const dir = jobPaths(config.stateDir, jobId).dir;
    let dirMtimeMs: number;
    try {
      dirMtimeMs = statSync(dir).mtimeMs;
    } catch {
      continue;
    }
    const owner = readJobOwner(dir);
    const poolGuest = isPoolGuestId(jobId) ? readJsonRecord(poolGuestFile(dir), poolGuestSchema) : undefined;
    jobs.push({
      jobId,
      dir,
      bootId: owner?.bootId ?? readJobStateIfValid(jobPaths(config.stateDir, jobId).stateFile)?.bootId,
      dirMtimeMs,
      hasOwnerRecord: owner !== undefined,
      prologueAlive: owner !== undefined && ownerAlive(owner, bootId),
      batchSystemHas: momPriv === undefined || isPoolGuestId(jobId) ? undefined : ['JB', 'SC'].some((ext) => existsSync(join(momPriv, 'jobs', `${jobId}.${ext}`))),
      ...(poolGuest ? { pool: poolGuest.claimedBy === undefined ? { waiting: true as const } : { claimedBy: poolGuest.claimedBy } } : {}),
    });
  }
  return jobs;
}

// This node's use records and seeding marks in the image cache.
function cacheMarks(config: Config): { cacheUses: CacheMark[]; seedings: CacheMark[] } {
  const host = hostname();
  const cacheUses: CacheMark[] = [];
  const seedings: CacheMark[] = [];
  for (const listing of listCache(cacheDirOf(config))) {
    const mark = (file: string, jobRef: string) => ({ entryDir: listing.paths.dir, file, lock: listing.paths.lock, jobRef, jobId: parseJobRef(jobRef).jobId });
    // a cache shared by nodes: another node's marks are that node's to reconcile
    for (const ref of listing.users) if (parseJobRef(ref).host === host) cacheUses.push(mark(join(listing.paths.users, ref), ref));
    const seeder = listing.seeding ? readTrimmedText(listing.paths.seeding) : undefined;
    if (seeder && parseJobRef(seeder).host === host) seedings.push(mark(listing.paths.seeding, seeder));
  }
  return { cacheUses, seedings };
}

// The vmbatch-* domains of this state directory. libvirt may run guests of another vmbatch
// (another state directory) or an admin's domain of that name: a domain is ours only when its
// files (console log, overlays) are in our job directory of its job id.
async function ownDomains(config: Config): Promise<string[]> {
  const own: string[] = [];
  for (const name of await listDomains(config.libvirtUri)) {
    if (!name.startsWith('vmbatch-') || !isGuestOwnerId(name.slice('vmbatch-'.length))) continue;
    const xml = await virsh(config.libvirtUri, ['dumpxml', name], { okExitCodes: [1] });
    if (xml.exitCode !== 0) continue;
    const jobDir = jobPaths(config.stateDir, name.slice('vmbatch-'.length)).dir;
    if (xml.stdout.includes(`'${jobDir}/`) || xml.stdout.includes(`"${jobDir}/`)) own.push(name);
  }
  return own;
}

// libvirt's vmbatch-JOBID.log files of this state directory: a log is ours when its domain is
// (running, ours by its XML) or when qemu's command line in it names our job directory of that
// job id (a disk's file name; libvirt passes a console file as a descriptor). As for domains,
// another vmbatch or an admin's domain of the name may have logs there too.
function ownLibvirtLogs(config: Config, ownRunning: string[]): { jobId: string; file: string }[] {
  const own: { jobId: string; file: string }[] = [];
  for (const name of readdirOrEmpty(config.libvirtLog.dir)) {
    const m = /^vmbatch-(.+)\.log$/.exec(name);
    if (!m?.[1] || !isGuestOwnerId(m[1])) continue;
    const file = join(config.libvirtLog.dir, name);
    const text = ownRunning.includes(name.slice(0, -'.log'.length)) ? '' : (readFileTail(file, 64 * 1024)?.text ?? '');
    if (ownRunning.includes(`vmbatch-${m[1]}`) || text.includes(`${jobPaths(config.stateDir, m[1]).dir}/`)) own.push({ jobId: m[1], file });
  }
  return own;
}

// A domain vmbatch-ID is a job's guest or a pool guest's.
function isGuestOwnerId(id: string): boolean {
  return jobIdSchema.safeParse(id).success || isPoolGuestId(id);
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
