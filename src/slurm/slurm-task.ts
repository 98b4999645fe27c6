import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { failedJobExitStatus } from '../errors/exit-codes.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { readJobScript } from '../job/job-script.js';
import { failedStartLine } from '../job/start-verdict.js';
import { guestJobCommand, jobEnvironment } from '../remoteshell/job-command.js';
import { readPreparedJob, runInGuest } from '../remoteshell/run-in-guest.js';
import { shellQuote } from '../shell/quote.js';
import { readJobFailure, jobFailureTextFile, type RecordedJobFailure } from '../state/job-failure.js';
import { jobPaths } from '../state/job-paths.js';
import { parseSlurmEnv, slurmJobIdSchema } from './prolog-env.js';
import { runScontrol } from './scontrol.js';

/** Slurm's step id of a batch job's script (SLURM_BATCH_SCRIPT). */
export const batchStepId = 4294967291;
/** Slurm's step id of salloc's shell (SLURM_INTERACTIVE_STEP, with LaunchParameters=use_interactive_step). */
export const interactiveStepId = 4294967290;

/** What the SPANK plugin and slurmstepd tell a task about itself (its environment). */
export const taskEnvSchema = z.object({
  SLURM_JOB_ID: slurmJobIdSchema,
  /** the step (batchStepId for the batch script) */
  VMBATCH_TASK_STEP: z
    .string()
    .regex(/^[0-9]+$/, 'must be a step id')
    .transform(Number),
  /** the program Slurm was about to run (the batch script's path on the node, or srun's command) */
  VMBATCH_TASK_ARGV0: z.string().min(1, 'must name the program'),
});

/**
 * A Slurm task (the SPANK plugin has slurmstepd exec this instead of the task's program, as the
 * user): runs the batch script, or the step's command with its arguments, in the job's guest as
 * the submitter and exits with its status. A job its prolog failed ends at once with the reason
 * in its output (or is requeued, within the retry bound).
 */
export async function runSlurmTask(args: string[], env: NodeJS.ProcessEnv, stdin: NodeJS.ReadStream = process.stdin): Promise<number> {
  try {
    const config = loadConfig();
    const { SLURM_JOB_ID: jobId, VMBATCH_TASK_STEP: step, VMBATCH_TASK_ARGV0: program } = parseSlurmEnv(taskEnvSchema, env, 'task');
    const uid = process.getuid?.();
    const failure = readJobFailure(jobPaths(config.stateDir, jobId).dir);
    if (failure) {
      if (uid !== undefined && uid !== 0 && uid !== failure.uid) throw new VmbatchError('JOB_NOT_OWNED', { jobId, user: `uid ${failure.uid}`, uid });
      return await endFailedJob(config, failure);
    }
    let state;
    try {
      state = readPreparedJob(config, jobId, uid);
    } catch (error) {
      if (error instanceof VmbatchError && error.code === 'JOB_NOT_PREPARED') return await endUnpreparedStart(config, jobId, env);
      throw error;
    }
    const run = step === batchStepId ? batchScriptCommand(program, args) : step === interactiveStepId ? allocationShell(stdin) : stepCommand(program, args, stdin);
    // slurmstepd started the task in its working directory (the job's, or the step's --chdir)
    const command = guestJobCommand({ workdir: process.cwd(), home: state.home, env: jobEnvironment(env, 'SLURM'), run: run.run, rte: state.rte });
    const input = run.script === undefined ? stdin : Object.assign(Readable.from([run.script]), { isTTY: false as const });
    return await runInGuest(config, state, { command, interactive: run.interactive, forwardStdin: true }, { stdin: input as NodeJS.ReadStream, term: env.TERM });
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return failedJobExitStatus;
  }
}

// The batch step: the script slurmstepd wrote (the submitter's file: read without following a
// link) goes to the guest on the command's stdin, into a file of the submitter's there, and runs
// with the script's arguments; its #! line chooses the interpreter, as on a plain node.
function batchScriptCommand(path: string, args: string[]): { run: { prelude: string[]; command: string }; script: string; interactive: false } {
  const script = readJobScript(path);
  if (script.kind !== 'batch') throw new VmbatchError('JOB_SCRIPT_UNREADABLE', { path, reason: 'it does not exist' });
  const prelude = [
    `vmbatch_script=$(mktemp "\${TMPDIR:-/tmp}/vmbatch-job.XXXXXX") && cat > "$vmbatch_script" && chmod 700 "$vmbatch_script" || { echo 'vmbatch: cannot write the job script in the guest' >&2; exit ${failedJobExitStatus}; }`,
  ];
  return { run: { prelude, command: ['"$vmbatch_script"', ...args.map(shellQuote)].join(' ') }, script: script.content, interactive: false };
}

// A step of srun (or salloc's shell): its command and arguments, with its stdin; a person's
// session when stdin is a terminal (srun --pty).
function stepCommand(program: string, args: string[], stdin: NodeJS.ReadStream): { run: { prelude: string[]; command: string }; script?: undefined; interactive: boolean } {
  return { run: { prelude: [], command: [program, ...args].map(shellQuote).join(' ') }, interactive: stdin.isTTY === true };
}

// salloc's shell: the node's shell (its $SHELL) means nothing in the guest; the submitter gets
// their login shell there, as `qsub -I` does.
function allocationShell(stdin: NodeJS.ReadStream): { run?: undefined; script?: undefined; interactive: boolean } {
  return { interactive: stdin.isTTY === true };
}

// A start of the job that no prolog prepared: slurmd skips the prolog when a requeued job starts
// again before the epilog of its previous start has finished (Slurm 22.05), and that epilog then
// removes what the job had. No guest was tried, so it is no attempt: the job asks to be requeued
// (the prolog counts real attempts). Slurm's restart count bounds these, at twice maxAttempts.
async function endUnpreparedStart(config: Config, jobId: string, env: NodeJS.ProcessEnv): Promise<number> {
  const restarts = Number(env.SLURM_RESTART_COUNT ?? 0);
  const requeue = restarts < 2 * config.maxAttempts;
  const error = new VmbatchError('SLURM_START_UNPREPARED', { jobId, restarts });
  const line = requeue ? `vmbatch: job ${jobId} is requeued.` : failedStartLine(jobId, { action: 'fail', attempt: restarts + 1, maxAttempts: config.maxAttempts });
  const failure = { version: 1 as const, jobId, uid: process.getuid?.() ?? 0, code: error.code, verdict: requeue ? ('requeue' as const) : ('fail' as const), createdAt: new Date().toISOString() };
  return await endFailedJob(config, failure, `${formatError(error)}\n${line}\n`);
}

// A job its prolog failed: the reason where the submitter reads it (the job's output), then the
// verdict: the job ends, or asks Slurm to requeue it (its owner may; the prolog counted the attempt).
async function endFailedJob(config: Config, failure: RecordedJobFailure, known?: string): Promise<number> {
  let text = known;
  try {
    text ??= readFileSync(jobFailureTextFile(jobPaths(config.stateDir, failure.jobId).dir), 'utf8');
  } catch {
    text = formatError(new VmbatchError('JOB_FAILED_BY_PROLOGUE', { jobId: failure.jobId, code: failure.code })) + '\n';
  }
  process.stderr.write(text);
  if (failure.verdict === 'requeue') {
    try {
      await runScontrol(['requeue', failure.jobId]);
    } catch (error) {
      const reason = error instanceof VmbatchError ? error.message : String(error);
      process.stderr.write(formatError(new VmbatchError('SLURM_REQUEUE_REFUSED', { jobId: failure.jobId, reason })) + '\n');
    }
  }
  return failedJobExitStatus;
}
