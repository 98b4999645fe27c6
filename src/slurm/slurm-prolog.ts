import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { errorCodeOf, failedStartLine, type FailedStart } from '../job/start-verdict.js';
import { createLogger } from '../log/logger.js';
import { makeJobDir, type PhaseTimings } from '../plan/apply-plan.js';
import { settleFailedStart, startJob } from '../plan/start-job.js';
import { writeJobFailure, writeJobFailureText } from '../state/job-failure.js';
import { jobPaths } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';
import { recordAttempt } from '../state/attempts.js';
import { parsePrologEnv, type PrologEnv } from './prolog-env.js';
import { withJobLock, writeJobRun } from './job-run.js';
import { slurmJobDescription } from './slurm-job.js';

/** What the prolog tells the SPANK plugin: 0 the job goes on (to run, or to end at once with its reason), 1 a fault of this node (Slurm drains it). */
export const SlurmPrologExit = { ok: 0, nodeFault: 1 } as const;

/**
 * Faults of the node, not of the job: Slurm should drain the node (and requeue the job held)
 * rather than let every job fail on it. Everything else a job brings, a submitter's mistake
 * above all, must never drain a node.
 */
export const nodeFaultCodes: ReadonlySet<string> = new Set(['CONFIG_UNREADABLE', 'CONFIG_INVALID', 'NOT_ROOT', 'SLURM_ENVIRONMENT_INVALID', 'LIBVIRT_UNREACHABLE', 'TOOL_MISSING']);

/**
 * The Slurm prolog (the SPANK plugin's job_prolog, as root, in slurmd's prolog environment; argv
 * the job's --vm-* options): describe the job, start its guest. A job that cannot run is not the
 * node's fault: the prolog succeeds and leaves the reason for the job's task, which prints it in
 * the job's output and ends the job (or has it requeued, within the retry bound).
 */
export async function runSlurmProlog(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = Date.now();
  let config: Config;
  let slurm: PrologEnv;
  try {
    config = loadConfig();
    if (process.getuid?.() !== 0) throw new VmbatchError('NOT_ROOT', { hook: 'Slurm prolog' });
    slurm = parsePrologEnv(env, 'prolog');
  } catch (thrown) {
    return nodeFault(undefined, undefined, thrown);
  }
  const known = { config, slurm };
  try {
    // one start or end of this job at a time: a requeued job may start again here before the
    // epilog of its previous start has run
    return await withJobLock(config, slurm.SLURM_JOB_ID, 'prolog', () => startSlurmJob(known.config, known.slurm, argv, started));
  } catch (thrown) {
    return nodeFault(config, slurm, thrown);
  }
}

// Starts the job's guest; a job that cannot run records why for its task (the prolog succeeds)
// unless the node is at fault.
async function startSlurmJob(config: Config, slurm: PrologEnv, argv: string[], started: number): Promise<number> {
  // the prolog's own count of real attempts (Slurm's restart count also counts starts slurmd
  // ran no prolog for): kept across requeues, forgotten when the job ends for good (epilog)
  const attempt = recordAttempt(config.stateDir, slurm.SLURM_JOB_ID);
  const timings: PhaseTimings = {};
  try {
    const job = await slurmJobDescription(slurm, argv);
    await startJob(config, job, { attempt, started, timings, hook: 'slurm-prolog' });
    writeJobRun(jobPaths(config.stateDir, job.jobId).dir, slurm.SLURM_JOB_RESTART_COUNT);
    return SlurmPrologExit.ok;
  } catch (thrown) {
    const verdict = await settleFailedStart(config, slurm.SLURM_JOB_ID, thrown, attempt, 'slurm-prolog');
    const code = errorCodeOf(verdict.error);
    if (nodeFaultCodes.has(code)) return nodeFault(config, slurm, verdict.error);
    const log = createLogger(config.logFile, 'slurm-prolog');
    try {
      recordFailure(config, slurm, verdict);
    } catch (recordError) {
      log.error('cannot record the failure', { job: slurm.SLURM_JOB_ID, code, error: String(recordError) });
      return SlurmPrologExit.nodeFault;
    }
    log.error('failed', { job: slurm.SLURM_JOB_ID, code, verdict: verdict.action, attempt });
    return SlurmPrologExit.ok;
  }
}

// A fault of the node: said on stderr (slurmd's log) and in vmbatch's log; Slurm drains the node.
function nodeFault(config: Config | undefined, slurm: PrologEnv | undefined, error: unknown): number {
  process.stderr.write(`${formatError(error)}\nvmbatch: a fault of this node: Slurm drains it and requeues the job held.\n`);
  if (config) createLogger(config.logFile, 'slurm-prolog').error('node fault', { job: slurm?.SLURM_JOB_ID, code: errorCodeOf(error) });
  return SlurmPrologExit.nodeFault;
}

// Leaves the failure for the job's task: the code and verdict (root's record) and the whole text
// (the submitter's file).
function recordFailure(config: Config, slurm: PrologEnv, verdict: FailedStart): void {
  const jobId = slurm.SLURM_JOB_ID;
  const dir = jobPaths(config.stateDir, jobId).dir;
  makeJobDir(dir);
  writeJobOwner(dir);
  writeJobRun(dir, slurm.SLURM_JOB_RESTART_COUNT);
  writeJobFailureText(dir, `${formatError(verdict.error)}\n${failedStartLine(jobId, verdict)}\n`, { uid: slurm.SLURM_JOB_UID, gid: slurm.SLURM_JOB_GID });
  writeJobFailure(dir, { jobId, uid: slurm.SLURM_JOB_UID, code: errorCodeOf(verdict.error), verdict: verdict.action, attempt: verdict.attempt, maxAttempts: verdict.maxAttempts });
}
