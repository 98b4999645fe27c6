import { rmSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { destroyDomain } from '../hypervisor/virsh.js';
import { removeLibvirtLogs } from '../hypervisor/libvirt-log.js';
import { releaseAddress } from '../network/address-pool.js';
import { domainNameFor } from '../job/names.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobStateIfValid } from '../state/job-state.js';
import { jobRefOf } from '../images/cache-users.js';
import { releaseCacheUses } from '../images/release-uses.js';
import { createLogger } from '../log/logger.js';
import { releaseGuestIdentity } from '../identity/guest-identity.js';
import { stopShareDaemons } from '../share/share-daemon.js';
import { poolGuestsOf } from '../warm/pool-guest.js';

/** What a teardown found and removed. */
export interface TeardownReport {
  domain: 'destroyed' | 'absent';
}

/**
 * Removes everything a job has on this node: its domain (or the pool guest it took, whole), its share daemons, its uses of the image cache, its
 * directory (overlays, ISO, keys, console log, sockets, state), libvirt's log of its domain
 * (unless libvirtLog.keep), its address and guest uid reservations. Idempotent, and correct after a prologue that
 * failed or was killed half-way: each step works from the job id alone. `dropSeed`: a seed's
 * writes are dropped even from a guest that got ready (reconcile: the job died unseen).
 */
export async function teardownJob(config: Config, jobId: string, options: { dropSeed?: boolean; domain?: TeardownReport['domain'] } = {}): Promise<TeardownReport> {
  const pooled = poolGuestsOf(config.stateDir, jobId);
  // `domain`: the caller destroyed it already (the epilogue, which looks at a lost guest first)
  const domain = options.domain ?? (await destroyJobGuests(config, jobId));
  // libvirt keeps a log per domain name forever; the epilogue has read why the guest stopped
  if (!config.libvirtLog.keep) removeLibvirtLogs(config.libvirtLog.dir, domainNameFor(jobId));
  const paths = jobPaths(config.stateDir, jobId);
  // a share's daemon ends with its qemu; one whose guest never started waits for it: stop it
  await stopShareDaemons(paths.dir);
  // the guest is gone: its overlays may now be committed and its cache entries released; a
  // seed is kept only from a guest that got ready (a failed prologue's overlay is not a seed)
  const phase = readJobStateIfValid(paths.stateFile)?.phase;
  await releaseCacheUses(paths.cacheUses, jobRefOf(jobId), createLogger(config.logFile, 'teardown'), { keepSeed: phase === 'ready' && !options.dropSeed });
  rmSync(paths.dir, { recursive: true, force: true });
  releaseAddress(config.stateDir, jobId);
  // last: the uid goes back to the pool only when no guest runs as it and no file of it is left
  releaseGuestIdentity(config.stateDir, jobId);
  // a guest the job took from a pool was the job's: it goes with it, after the job's files
  // (the context ISO in the job directory is that guest's uid's until removed)
  for (const guest of pooled) await teardownJob(config, guest.id);
  return { domain };
}

/** Destroys a job's guest: its own domain, or the pool guest it took. 'destroyed' when one ran. */
export async function destroyJobGuests(config: Config, jobId: string): Promise<TeardownReport['domain']> {
  const names = [jobId, ...poolGuestsOf(config.stateDir, jobId).map((g) => g.id)].map(domainNameFor);
  const found = await Promise.all(names.map((name) => destroyDomain(config.libvirtUri, name)));
  return found.includes('destroyed') ? 'destroyed' : 'absent';
}
