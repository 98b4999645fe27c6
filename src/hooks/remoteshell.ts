import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { failedJobExitStatus } from '../errors/exit-codes.js';
import { jobIdSchema } from '../job/names.js';
import { guestJobCommand, jobEnvironment } from '../remoteshell/job-command.js';
import { connectGuest, runOnGuest } from '../remoteshell/ssh-session.js';
import { lostGuestError } from '../remoteshell/lost-guest.js';
import { reportedCopy, stageIn, stageOut } from '../remoteshell/staging.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobFailure } from '../state/job-failure.js';
import { readJobState } from '../state/job-state.js';

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
    const state = readJobState(paths.stateFile);
    if (!state || state.phase !== 'ready') throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
    // the socket and the key refuse anyone else anyway; say so instead of failing on a file
    if (uid !== undefined && uid !== 0 && uid !== state.uid) throw new VmbatchError('JOB_NOT_OWNED', { jobId, user: state.user, uid });

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
    if (state.remoteshell === 'console' && state.consoleSocket) {
      if (interactive) throw new VmbatchError('CONSOLE_FAILED', { socket: state.consoleSocket, reason: "interactive jobs (qsub -I) need remoteshell over SSH; this job's template uses mode='console'" });
      const { runOverConsole } = await import('../remoteshell/console-session.js');
      return await runOverConsole(state.consoleSocket, command, process.stdout);
    }
    if (state.sshSocket === undefined) throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
    const client = await connectGuest({
      socket: state.sshSocket,
      user: state.user,
      privateKey: readFileSync(paths.userKey, 'utf8'),
      hostPublicKey: state.hostPublicKey,
    });
    try {
      const io = { stdout: process.stdout, stderr: process.stderr };
      // the staged working directory: copied in before the job, and back after it (rw); a failed copy is reported, never the job's status
      const staged = state.staged;
      if (staged) await reportedCopy('in', staged, () => stageIn(client, staged), process.stderr);
      // an interactive job without a terminal (qsub -I with stdin redirected) still reads its commands from stdin
      const pty = interactive && tty ? { term: env.TERM ?? 'vt100', rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } : undefined;
      if (pty) stdin.setRawMode?.(true);
      const run = await runOnGuest(client, command, interactive ? { ...io, stdin, pty } : io);
      if (pty) stdin.setRawMode?.(false);
      if (interactive) stdin.unref();
      if (run.lost) throw await lostGuestError({ jobId, domain: state.domainName, socket: state.sshSocket });
      if (staged?.mode === 'rw') await reportedCopy('out', staged, () => stageOut(client, staged, config.shares.stageOutMaxMiB * 1048576), process.stderr);
      return run.status;
    } finally {
      client.end();
    }
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
