import type { Config } from '../config/schema.js';
import { teardownJob } from '../cleanup/teardown.js';
import { reserveGuestIdentity } from '../identity/guest-identity.js';
import type { JobDescription } from '../job/job-description.js';
import { failedStartVerdict, type FailedStart } from '../job/start-verdict.js';
import { createLogger } from '../log/logger.js';
import { reserveAddress } from '../network/address-pool.js';
import { jobPaths } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';
import { applyPlan, makeJobDir, timePhase, type PhaseTimings } from './apply-plan.js';
import { gatherJobInputs } from './job-inputs.js';
import { planPrologue } from './prologue-plan.js';
import { startSessionMux } from '../remoteshell/start-session-mux.js';
import { spawnDetached } from '../exec/spawn-daemon.js';
import { vmbatchMain } from '../install/installed-paths.js';

/**
 * Starts one job's guest, whichever batch system asked: checks what the job asks for, plans the
 * guest, prepares and boots it and waits until it is ready. Throws when the job cannot run;
 * settleFailedStart then decides what becomes of it.
 */
export async function startJob(config: Config, job: JobDescription, run: { attempt: number; started: number; timings: PhaseTimings; hook: string }): Promise<void> {
  const { timings, started } = run;
  const log = createLogger(config.logFile, run.hook);
  log.info('start', { job: job.jobId, user: job.user, attempt: run.attempt });
  const deadline = started + config.prologueBudgetSeconds * 1000;
  const inputs = await timePhase(timings, 'parse', () => gatherJobInputs(config, job, { deadline, log }));
  // a leftover of an earlier attempt (killed prologue, missed epilogue) would block the name
  await teardownJob(config, job.jobId);
  makeJobDir(jobPaths(config.stateDir, job.jobId).dir);
  // at once: reconcile leaves a directory alone while the prologue that made it runs
  writeJobOwner(jobPaths(config.stateDir, job.jobId).dir);
  const staticAddress = await reserveAddress(config, job.jobId);
  const guestIdentity = await reserveGuestIdentity(config, job.jobId);
  const plan = planPrologue({ config, job, ...inputs, staticAddress, guestIdentity });
  const { guestReport, start, domainName } = await applyPlan(plan, timings, { startedAt: started, deadline }, log);
  if (job.concurrentSessions && plan.sshSocket) await timePhase(timings, 'sessions', () => startSessionMux(config, job.jobId, deadline));
  timings.total = Date.now() - started;
  // the peak memory: a guest flooding its console must not grow it (docs/admin.md)
  log.info('ready', { job: job.jobId, domain: domainName, start, guest: guestReport, ...timings, maxRssKiB: process.resourceUsage().maxRSS });
  // after the job's own start (it must not wait for, nor share the CPU with, the next job's guest)
  const warm = plan.warmSettings;
  if (warm && (warm.pool > 0 || (warm.build === 'auto' && start === 'cold'))) {
    const pid = spawnDetached([process.execPath, vmbatchMain, 'warm', 'fill', plan.template]);
    log.info('warm fill started', { job: job.jobId, template: plan.template, pid: pid ?? 'none' });
  }
}

/**
 * After a failed start (or a job its front end could not even describe): removes everything of
 * the job, when its id is known, and decides its fate (failedStartVerdict).
 */
export async function settleFailedStart(config: Config | undefined, jobId: string | undefined, thrown: unknown, attempt: number, hook: string): Promise<FailedStart> {
  if (config && jobId) {
    try {
      await teardownJob(config, jobId);
    } catch (cleanupError) {
      // the original failure matters more; the epilogue tries the cleanup again
      createLogger(config.logFile, hook).error('cleanup failed', { job: jobId, error: String(cleanupError) });
    }
  }
  return failedStartVerdict(thrown, attempt, config?.maxAttempts ?? 1);
}
