import { resolve as resolvePath } from 'node:path';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { failedJobExitStatus } from '../errors/exit-codes.js';
import { jobIdSchema } from '../job/names.js';
import { guestJobCommand, jobEnvironment } from '../remoteshell/job-command.js';
import { readPreparedJob, runInGuest } from '../remoteshell/run-in-guest.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobFailure } from '../state/job-failure.js';

/** Exit status of remoteshell when it could not run the job at all (as ssh uses it). */
export const remoteshellFailure = failedJobExitStatus;

/**
 * Torque's $job_starter: runs as the job's user (the user's host shell in argv[1] is not used:
 * the guest runs the job with the user's guest login shell), the job script's path on stdin (a
 * terminal for `qsub -I`). Runs the job in the job's guest over SSH and exits with the job's
 * status; a job its prologue failed ends at once, and a guest lost under the job is named.
 */
export async function runRemoteshell(env: NodeJS.ProcessEnv, stdin: NodeJS.ReadStream = process.stdin): Promise<number> {
  try {
    const config = loadConfig();
    const jobId = env.PBS_JOBID;
    if (!jobId) throw new VmbatchError('JOB_ID_MISSING', {});
    const parsedId = jobIdSchema.safeParse(jobId);
    if (!parsedId.success) throw new VmbatchError('HOOK_ARGV_INVALID', { hook: 'remoteshell', problems: [`PBS_JOBID ${JSON.stringify(jobId)} ${parsedId.error.issues[0]?.message}`] });
    const paths = jobPaths(config.stateDir, jobId);
    const uid = process.getuid?.();
    const failure = readJobFailure(paths.dir);
    if (failure) {
      if (uid !== undefined && uid !== 0 && uid !== failure.uid) throw new VmbatchError('JOB_NOT_OWNED', { jobId, user: `uid ${failure.uid}`, uid });
      throw new VmbatchError('JOB_FAILED_BY_PROLOGUE', { jobId, code: failure.code });
    }
    const state = readPreparedJob(config, jobId, uid);

    // `qsub -I` has no script (states of older versions do not say: a terminal on stdin decides)
    const tty = stdin.isTTY === true;
    const interactive = state.interactive ?? tty;
    let script: string | undefined;
    if (!interactive) {
      // pbs_mom writes the script's path on stdin; a terminal there has nothing to check
      const requested = tty ? '' : (await readFirstLine(stdin)).trim();
      if (requested && resolvePath(requested) !== resolvePath(state.hostScriptPath)) {
        throw new VmbatchError('JOB_SCRIPT_MISMATCH', { path: requested, expected: state.hostScriptPath });
      }
      script = state.guestScriptPath;
    }
    const command = guestJobCommand({ workdir: state.workdir ?? env.PBS_O_WORKDIR, home: state.home, env: jobEnvironment(env), script, rte: state.rte, vcpus: state.vcpus });
    return await runInGuest(config, state, { command, interactive }, { stdin, term: env.TERM });
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return remoteshellFailure;
  }
}

// pbs_mom writes the script path and a newline; stop at the newline (or at end of input).
function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', finish);
      stream.pause();
      resolve(text.split('\n')[0] ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n')) finish();
    };
    stream.on('data', onData);
    stream.once('end', finish);
  });
}
