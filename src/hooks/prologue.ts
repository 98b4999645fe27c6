import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { teardownJob } from '../cleanup/teardown.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { failedJobExitStatus, prologueExitCode, HookExit } from '../errors/exit-codes.js';
import { asDiskFull } from '../errors/disk-full.js';
import { reserveAddress } from '../network/address-pool.js';
import { parsePrologueArgv, type PrologueArgs } from '../job/hook-argv.js';
import { lookupSubmitter } from '../job/submitter.js';
import { writeSubmitterNotice } from '../job/submitter-notice.js';
import { createLogger } from '../log/logger.js';
import { applyPlan, makeJobDir, timePhase, type PhaseTimings } from '../plan/apply-plan.js';
import { planPrologue } from '../plan/prologue-plan.js';
import { gatherJobInputs } from '../plan/job-inputs.js';
import { recordAttempt } from '../state/attempts.js';
import { writeJobFailure } from '../state/job-failure.js';
import { torqueJobStarterConfigured } from '../job/torque-starter.js';
import { jobPaths } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';
import { reserveGuestIdentity } from '../identity/guest-identity.js';

/** The outcome of a prologue run: the exit code for pbs_mom and the phase timings. */
export interface PrologueOutcome {
  exitCode: 0 | 1 | 2;
  timings: PhaseTimings;
  error?: unknown;
}

/**
 * The Torque prologue: validate the job, plan the guest, prepare and boot it, wait until it is
 * ready. On failure everything of the job is torn down, the submitter gets a notice in the
 * job's working directory, and the exit code tells pbs_mom to abort (1) or requeue (2).
 */
export async function runPrologue(argv: string[], env: NodeJS.ProcessEnv): Promise<PrologueOutcome> {
  const started = Date.now();
  const timings: PhaseTimings = {};
  let config: Config | undefined;
  let args: PrologueArgs | undefined;
  let attempt = 1;
  try {
    config = loadConfig();
    if (process.getuid?.() !== 0) throw new VmbatchError('NOT_ROOT', { hook: 'prologue' });
    args = parsePrologueArgv(argv);
    attempt = recordAttempt(config.stateDir, args.jobId);
    await bootJob(config, args, attempt, timings, started, env.PBS_O_WORKDIR);
    return { exitCode: HookExit.ok, timings };
  } catch (thrown) {
    // a full disk, whatever step hit it (a write, a mkdir, a copy), is transient
    const error = asDiskFull(thrown);
    const maxAttempts = config?.maxAttempts ?? 1;
    let reported = error;
    const exitCode = prologueExitCode(error, attempt, maxAttempts);
    if (error instanceof VmbatchError && error.kind === 'transient' && exitCode === HookExit.abort && maxAttempts > 1) {
      reported = new VmbatchError('RETRIES_EXHAUSTED', { attempts: attempt, last: error.message });
    }
    if (config && args) {
      try {
        await teardownJob(config, args.jobId);
      } catch (cleanupError) {
        // the original failure matters more; the epilogue tries the cleanup again
        createLogger(config.logFile, 'prologue').error('cleanup failed', { job: args.jobId, error: String(cleanupError) });
      }
    }
    const job = args ? `job ${args.jobId}` : 'the job';
    // only validated arguments name a user (whose directory the notice may be written to)
    const who = args ? await lookupSubmitter(args.user, args.group).catch(() => undefined) : undefined;
    // a job failed for good "runs" when a $job_starter exists: vmbatch's remoteshell ends it at
    // once, so its error file, which Torque does not deliver for an aborted job, carries the reason
    const failsThroughStarter = exitCode === HookExit.abort && config !== undefined && args !== undefined && who !== undefined && (await failThroughStarter(config, args.jobId, who.uid, reported));
    const verdict =
      exitCode === HookExit.requeue
        ? `vmbatch: ${job} is requeued (attempt ${attempt} of ${maxAttempts}).`
        : failsThroughStarter
          ? `vmbatch: ${job} does not run: it ends at once with exit status ${failedJobExitStatus}.`
          : `vmbatch: ${job} is aborted.`;
    const text = `${formatError(reported)}\n${verdict}\n`;
    process.stderr.write(text);
    if (config) createLogger(config.logFile, 'prologue').error('failed', { job: args?.jobId, code: codeOf(reported), exit: failsThroughStarter ? HookExit.ok : exitCode, ...(failsThroughStarter ? { verdict: 'fail' } : {}) });
    if (config?.submitterNotice && args && who) {
      const workdir = env.PBS_O_WORKDIR || who.home;
      if (workdir) await writeSubmitterNotice({ workdir, jobId: args.jobId, uid: who.uid, gid: who.gid }, text);
    }
    return { exitCode: failsThroughStarter ? HookExit.ok : exitCode, timings, error: reported };
  }
}

// The catalogue code of an error (INTERNAL for anything else).
function codeOf(error: unknown): string {
  return error instanceof VmbatchError ? error.code : 'INTERNAL';
}

// Leaves the failure for remoteshell when pbs_mom has a $job_starter; false when it has none
// (the job is aborted then) or the record cannot be written.
async function failThroughStarter(config: Config, jobId: string, uid: number, error: unknown): Promise<boolean> {
  // pbs_mom runs the prologue in mom_priv
  if (!torqueJobStarterConfigured(config.torque.momPriv ?? process.cwd())) return false;
  try {
    const dir = jobPaths(config.stateDir, jobId).dir;
    makeJobDir(dir);
    writeJobOwner(dir);
    writeJobFailure(dir, { jobId, uid, code: codeOf(error) });
    return true;
  } catch (recordError) {
    createLogger(config.logFile, 'prologue').error('cannot record the failure', { job: jobId, error: String(recordError) });
    await teardownJob(config, jobId).catch(() => undefined);
    return false;
  }
}

// The prologue's work once its inputs are validated: choose, plan, prepare, boot, wait.
async function bootJob(config: Config, args: PrologueArgs, attempt: number, timings: PhaseTimings, started: number, workdir: string | undefined): Promise<void> {
  const log = createLogger(config.logFile, 'prologue');
  log.info('start', { job: args.jobId, user: args.user, attempt });
  const deadline = started + config.prologueBudgetSeconds * 1000;
  const inputs = await timePhase(timings, 'parse', () => gatherJobInputs(config, args, { deadline, log, workdir }));
  // a leftover of an earlier attempt (killed prologue, missed epilogue) would block the name
  await teardownJob(config, args.jobId);
  makeJobDir(jobPaths(config.stateDir, args.jobId).dir);
  // at once: reconcile leaves a directory alone while the prologue that made it runs
  writeJobOwner(jobPaths(config.stateDir, args.jobId).dir);
  const staticAddress = await reserveAddress(config, args.jobId);
  const guestIdentity = await reserveGuestIdentity(config, args.jobId);
  const plan = planPrologue({ config, args, ...inputs, staticAddress, guestIdentity });
  const { guestReport } = await applyPlan(plan, timings, { startedAt: started, deadline }, log);
  timings.total = Date.now() - started;
  // the peak memory: a guest flooding its console must not grow it (docs/admin.md)
  log.info('ready', { job: args.jobId, domain: plan.domainName, guest: guestReport, ...timings, maxRssKiB: process.resourceUsage().maxRSS });
}
