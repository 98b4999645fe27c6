import { rmSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { destroyDomain } from '../hypervisor/virsh.js';
import { releasePorts } from '../hypervisor/port-allocator.js';
import { domainNameFor } from '../job/names.js';
import { jobPaths } from '../state/job-paths.js';

/** What a teardown found and removed. */
export interface TeardownReport {
  domain: 'destroyed' | 'absent';
}

/**
 * Removes everything a job has on this node: its domain, its directory (overlays, ISO, keys,
 * console log, state) and its port reservations. Idempotent, and correct after a prologue that
 * failed or was killed half-way: each step works from the job id alone.
 */
export async function teardownJob(config: Config, jobId: string): Promise<TeardownReport> {
  const domain = await destroyDomain(config.libvirtUri, domainNameFor(jobId));
  rmSync(jobPaths(config.stateDir, jobId).dir, { recursive: true, force: true });
  releasePorts(config.stateDir, jobId);
  return { domain };
}
