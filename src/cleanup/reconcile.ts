import { removeLibvirtLogs } from '../hypervisor/libvirt-log.js';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { readTrimmedText } from '../fsutil/read-text.js';
import { destroyDomain } from '../hypervisor/virsh.js';
import type { Logger } from '../log/logger.js';
import { currentBootId } from '../state/boot-id.js';
import { jobPaths } from '../state/job-paths.js';
import { ownerAlive, readJobOwner } from '../state/job-owner.js';
import { removeReservationIfUnchanged } from '../state/reservations.js';
import { gatherNodeFacts } from './node-facts.js';
import { describeItem, itemJobId, planReconcile, type ReconcileItem } from './reconcile-plan.js';
import { teardownJob } from './teardown.js';
import { retireIdleGuests } from '../warm/retire-pool.js';

/** What became of one planned item. */
export interface ReconcileOutcome {
  item: ReconcileItem;
  /** removed; kept: a prologue took it up again since the plan was made; planned: a dry run */
  result: 'removed' | 'kept' | 'planned';
  line: string;
}

/**
 * `vmbatch reconcile`: finds what belongs to no live job (see planReconcile) and removes each
 * item, logging one line per item removed. One reconcile at a time (a lock in STATEDIR); a
 * dry run only plans. Idempotent: a second run finds nothing.
 */
export async function reconcileNode(config: Config, options: { dryRun: boolean }, log: Logger): Promise<ReconcileOutcome[]> {
  return withFileLock(join(config.stateDir, 'reconcile.lock'), { timeoutMs: 120_000, purpose: 'vmbatch reconcile' }, async () => {
    // waiting pool guests idle past their limit end first (each whole, as a job's guest would)
    if (!options.dryRun) for (const id of await retireIdleGuests(config)) log.info('removed', { item: 'pool-guest', what: `waiting guest ${id}`, job: id, reason: 'idle past its limit' });
    const plan = planReconcile(await gatherNodeFacts(config));
    const outcomes: ReconcileOutcome[] = [];
    for (const item of plan) {
      const what = `${describeItem(item)} (${item.reason})`;
      if (options.dryRun) {
        outcomes.push({ item, result: 'planned', line: `would remove ${what}` });
        continue;
      }
      const removed = await removeItem(config, item);
      if (removed) log.info('removed', { item: item.kind, what: describeItem(item), job: itemJobId(item), reason: item.reason });
      outcomes.push({ item, result: removed ? 'removed' : 'kept', line: `${removed ? 'removed' : 'kept'} ${what}${removed ? '' : ': a prologue took it up meanwhile'}` });
    }
    return outcomes;
  });
}

// Performs one item. Before each removal the job is looked at again: a prologue may have
// started for the same job id since the snapshot, and what it makes is never touched.
async function removeItem(config: Config, item: ReconcileItem): Promise<boolean> {
  const jobDir = jobPaths(config.stateDir, itemJobId(item)).dir;
  const retaken = () => (item.reason === 'no job directory' && existsSync(jobDir)) || prologueRuns(jobDir);
  switch (item.kind) {
    case 'domain':
      if (retaken()) return false;
      await destroyDomain(config.libvirtUri, item.name);
      return true;
    case 'seeding':
    case 'cache-use': {
      const { mark } = item;
      // under the entry's lock, as a prologue adds its records: no record of a job made after the check goes
      return withFileLock(mark.lock, { timeoutMs: 60_000, purpose: `vmbatch reconcile dropping ${mark.jobRef}` }, async () => {
        if (retaken()) return false;
        if (item.kind === 'seeding' && readTrimmedText(mark.file) !== mark.jobRef) return false;
        rmSync(mark.file, { force: true });
        return true;
      });
    }
    case 'reservation':
      if (retaken()) return false;
      return removeReservationIfUnchanged(item.reservation);
    case 'attempts':
      if (prologueRuns(jobDir)) return false;
      rmSync(item.file, { force: true });
      return true;
    case 'libvirt-log':
      if (retaken()) return false;
      removeLibvirtLogs(config.libvirtLog.dir, `vmbatch-${item.jobId}`);
      return true;
    case 'job':
      if (prologueRuns(jobDir)) return false;
      // the job died unseen: whatever its seed wrote is dropped, never committed
      await teardownJob(config, item.jobId, { dropSeed: true });
      return true;
  }
}

function prologueRuns(jobDir: string): boolean {
  const owner = readJobOwner(jobDir);
  return owner !== undefined && ownerAlive(owner, currentBootId());
}
