import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { jobIdSchema } from '../job/names.js';
import { guestJobCommand, jobEnvironment } from '../remoteshell/job-command.js';
import { connectGuest, runOnGuest } from '../remoteshell/ssh-session.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobState } from '../state/job-state.js';

/** Exit status of remoteshell when it could not run the job at all (as ssh uses it). */
export const remoteshellFailure = 255;

/**
 * Torque's $job_starter: runs as the job's user (the user's host shell in argv[1] is not used:
 * the guest runs the job with the user's guest login shell) and the job script's path on stdin (a terminal for `qsub -I`). Runs the job in the job's guest over SSH
 * and exits with the job's status.
 */
export async function runRemoteshell(env: NodeJS.ProcessEnv, stdin: NodeJS.ReadStream = process.stdin): Promise<number> {
  try {
    const config = loadConfig();
    const jobId = env.PBS_JOBID;
    if (!jobId) throw new VmbatchError('JOB_ID_MISSING', {});
    const parsedId = jobIdSchema.safeParse(jobId);
    if (!parsedId.success) throw new VmbatchError('HOOK_ARGV_INVALID', { hook: 'remoteshell', problems: [`PBS_JOBID ${JSON.stringify(jobId)} ${parsedId.error.issues[0]?.message}`] });
    const paths = jobPaths(config.stateDir, jobId);
    const state = readJobState(paths.stateFile);
    if (!state || state.phase !== 'ready') throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
    // the socket and the key refuse anyone else anyway; say so instead of failing on a file
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && uid !== state.uid) throw new VmbatchError('JOB_NOT_OWNED', { jobId, user: state.user, uid });

    const interactive = stdin.isTTY === true;
    let script: string | undefined;
    if (!interactive) {
      const requested = (await readFirstLine(stdin)).trim();
      if (requested && resolvePath(requested) !== resolvePath(state.hostScriptPath)) {
        throw new VmbatchError('JOB_SCRIPT_MISMATCH', { path: requested, expected: state.hostScriptPath });
      }
      script = state.guestScriptPath;
    }
    if (state.remoteshell === 'console' && state.consoleSocket) {
      if (interactive) throw new VmbatchError('CONSOLE_FAILED', { socket: state.consoleSocket, reason: "interactive jobs (qsub -I) need remoteshell over SSH; this job's template uses mode='console'" });
      const { runOverConsole } = await import('../remoteshell/console-session.js');
      return await runOverConsole(state.consoleSocket, guestJobCommand({ workdir: env.PBS_O_WORKDIR, env: jobEnvironment(env), script, rte: state.rte, vcpus: state.vcpus }), process.stdout);
    }
    if (state.sshSocket === undefined) throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
    const client = await connectGuest({
      socket: state.sshSocket,
      user: state.user,
      privateKey: readFileSync(paths.userKey, 'utf8'),
      hostPublicKey: state.hostPublicKey,
    });
    try {
      const command = guestJobCommand({ workdir: env.PBS_O_WORKDIR, env: jobEnvironment(env), script, rte: state.rte, vcpus: state.vcpus });
      if (!interactive) return await runOnGuest(client, command, { stdout: process.stdout, stderr: process.stderr });
      stdin.setRawMode?.(true);
      const pty = { term: env.TERM ?? 'vt100', rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 };
      const status = await runOnGuest(client, command, { stdout: process.stdout, stderr: process.stderr, stdin, pty });
      stdin.setRawMode?.(false);
      stdin.unref();
      return status;
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
