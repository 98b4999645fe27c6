import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { teardownJob } from '../cleanup/teardown.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { HookExit } from '../errors/exit-codes.js';
import { parsePrologueArgv, type PrologueArgs } from '../job/hook-argv.js';
import { errorCodeOf, failedStartLine } from '../job/start-verdict.js';
import { lookupSubmitter } from '../job/submitter.js';
import { writeSubmitterNotice } from '../job/submitter-notice.js';
import { torqueJobDescription } from '../job/torque-job.js';
import { createLogger } from '../log/logger.js';
import { makeJobDir, type PhaseTimings } from '../plan/apply-plan.js';
import { settleFailedStart, startJob } from '../plan/start-job.js';
import { recordAttempt } from '../state/attempts.js';
import { writeJobFailure } from '../state/job-failure.js';
import { torqueJobStarterConfigured } from '../job/torque-starter.js';
import { jobPaths } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';

/** The outcome of a prologue run: the exit code for pbs_mom and the phase timings. */
export interface PrologueOutcome {
  exitCode: 0 | 1 | 2;
  timings: PhaseTimings;
  error?: unknown;
}

/**
 * The Torque prologue: describe the job from pbs_mom's arguments, then start its guest
 * (startJob). On failure everything of the job is torn down, the submitter gets a notice in the
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
    const job = torqueJobDescription(args, env.PBS_O_WORKDIR);
    await startJob(config, job, { attempt, started, timings, hook: 'prologue' });
    return { exitCode: HookExit.ok, timings };
  } catch (thrown) {
    const verdict = await settleFailedStart(config, args?.jobId, thrown, attempt, 'prologue');
    const reported = verdict.error;
    const exitCode = verdict.action === 'requeue' ? HookExit.requeue : HookExit.abort;
    const job = args ? `job ${args.jobId}` : 'the job';
    // only validated arguments name a user (whose directory the notice may be written to)
    const who = args ? await lookupSubmitter(args.user, args.group).catch(() => undefined) : undefined;
    // a job failed for good "runs" when a $job_starter exists: vmbatch's remoteshell ends it at
    // once, so its error file, which Torque does not deliver for an aborted job, carries the reason
    const failsThroughStarter = exitCode === HookExit.abort && config !== undefined && args !== undefined && who !== undefined && (await failThroughStarter(config, args.jobId, who.uid, reported));
    const outcome = args && (exitCode === HookExit.requeue || failsThroughStarter) ? failedStartLine(args.jobId, verdict) : `vmbatch: ${job} is aborted.`;
    const text = `${formatError(reported)}\n${outcome}\n`;
    process.stderr.write(text);
    if (config)
      createLogger(config.logFile, 'prologue').error('failed', {
        job: args?.jobId,
        code: errorCodeOf(reported),
        exit: failsThroughStarter ? HookExit.ok : exitCode,
        ...(failsThroughStarter ? { verdict: 'fail' } : {}),
      });
    if (config?.submitterNotice && args && who) {
      const workdir = env.PBS_O_WORKDIR || who.home;
      if (workdir) await writeSubmitterNotice({ workdir, jobId: args.jobId, uid: who.uid, gid: who.gid }, text);
    }
    return { exitCode: failsThroughStarter ? HookExit.ok : exitCode, timings, error: reported };
  }
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
    writeJobFailure(dir, { jobId, uid, code: errorCodeOf(error) });
    return true;
  } catch (recordError) {
    createLogger(config.logFile, 'prologue').error('cannot record the failure', { job: jobId, error: String(recordError) });
    await teardownJob(config, jobId).catch(() => undefined);
    return false;
  }
}
