import { buildContext } from '../context/build-context.js';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { destroyDomain } from '../hypervisor/virsh.js';
import { domainNameFor } from '../job/names.js';
import type { Logger } from '../log/logger.js';
import { waitForReady } from '../readiness/wait-ready.js';
import { writeJobState, type JobState } from '../state/job-state.js';
import { claimPoolGuest } from '../warm/pool-guest.js';
import { handPoolGuestToJob } from '../warm/take-pool-guest.js';
import { isWarmPlan } from '../warm/warm-plan.js';
import type { ProloguePlan } from './prologue-plan.js';

/** What a guest from the pool reported, or undefined: none waited, or it failed (the job then starts without it). */
export type PooledStart = { guestReport: string; domainName: string } | undefined;

// a waiting guest reports within a second or two once resumed; longer means it is broken
const poolReadyCapMs = 30_000;

/**
 * Starts the job in a waiting guest of its template's pool, when its saved state has one: takes
 * it (claimPoolGuest), builds the job's context, hands the guest to the job and waits for its
 * ready line. The guest is the job's from the claim on: its teardown ends it. A guest that
 * fails to take the job (no ready line, stopped, a failed resume) is destroyed and logged, and
 * undefined tells the caller to start the job as without a pool; errors of the job's own
 * (its prolog.sh failed, the prologue's budget is spent) are thrown.
 */
export async function startFromPool(
  plan: ProloguePlan,
  state: JobState,
  ctx: { time: <T>(phase: string, step: () => Promise<T> | T) => Promise<T>; deadline: number; log: Logger },
): Promise<PooledStart> {
  const warm = plan.warm;
  if (!isWarmPlan(warm) || !plan.warmSettings?.pool) return undefined;
  const { time, log } = ctx;
  const guest = await time('pool', () => claimPoolGuest(warm.stateDir, warm.key, plan.jobId));
  if (!guest) {
    log.info('pool empty', { job: plan.jobId, key: warm.key.slice(0, 16) });
    return undefined;
  }
  const domainName = domainNameFor(guest.id);
  const own = {
    domainName,
    sshSocket: plan.sshSocket === undefined ? undefined : guest.paths.sshSocket,
    consoleSocket: plan.remoteshell === 'console' ? guest.paths.consoleSocket : undefined,
    poolGuest: guest.id,
  };
  try {
    await time('iso', () => buildContext(plan, plan.warmIso ?? plan.iso));
    await time('keys', () => writeFileAtomic(plan.paths.userKey, plan.userKey.privateKey, { mode: 0o600, uid: plan.submitter.uid, gid: plan.submitter.gid }));
    writeJobState(plan.paths.stateFile, { ...state, ...own, phase: 'booting' });
    const sockets = [own.sshSocket, own.consoleSocket].filter((s): s is string => s !== undefined);
    await time('resume', () => handPoolGuestToJob({ uri: plan.libvirtUri, guest, isoFile: plan.paths.isoFile, submitter: plan.submitter, sockets }));
    const timeoutMs = Math.max(0, Math.min(plan.readinessTimeoutMs, ctx.deadline - Date.now(), poolReadyCapMs));
    const ready = await time('ready', () => waitForReady({ uri: plan.libvirtUri, domainName, consoleFile: guest.paths.consoleFile, nonce: plan.nonce, timeoutMs }));
    writeJobState(plan.paths.stateFile, { ...state, ...own, phase: 'ready', guestReport: ready.detail });
    return { guestReport: ready.detail, domainName };
  } catch (error) {
    if (!isVmbatchError(error, 'WARM_RESTORE_FAILED') && !isVmbatchError(error, 'GUEST_NOT_READY') && !isVmbatchError(error, 'GUEST_STOPPED')) throw error;
    // never a failed job because of the pool: the broken guest stops now (the job's teardown
    // removes it), and the job starts as if none had waited
    log.warn('pool guest failed, starting', { job: plan.jobId, guest: guest.id, error: error instanceof Error ? error.message : String(error) });
    await destroyDomain(plan.libvirtUri, domainName);
    writeJobState(plan.paths.stateFile, state);
    return undefined;
  }
}
