import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobState, type JobState } from '../state/job-state.js';
import { lostGuestError } from './lost-guest.js';
import { connectGuest, runOnGuest } from './ssh-session.js';
import { reportedCopy, stageIn, stageOut } from './staging.js';
import { recordSentFiles } from './stage-merge.js';

/**
 * The state of a job its prologue prepared, for a remoteshell running as `uid`: refused when
 * the guest is not ready, or when the job is another user's (the socket and the key refuse
 * anyone else anyway; this says so instead of failing on a file).
 */
export function readPreparedJob(config: Config, jobId: string, uid: number | undefined): JobState {
  const paths = jobPaths(config.stateDir, jobId);
  const state = readJobState(paths.stateFile);
  if (!state || state.phase !== 'ready') throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
  if (uid !== undefined && uid !== 0 && uid !== state.uid) throw new VmbatchError('JOB_NOT_OWNED', { jobId, user: state.user, uid });
  return state;
}

/** How one command runs in the guest: its shell text, and whether it talks to a person. */
export interface GuestCommand {
  /** what the guest's login shell runs (guestJobCommand) */
  command: string;
  /** a person's session (`qsub -I`, `srun --pty`): stdin is forwarded, with a terminal when there is one */
  interactive: boolean;
  /** the program's own stdin goes to the command (Slurm tasks, a batch script fed on stdin) */
  forwardStdin?: boolean;
}

/**
 * Runs one command in a prepared job's guest as its submitter and returns its exit status,
 * whichever batch system started it: over the guest's login console or its SSH channel, the
 * staged working directory copied in before and back after it, and a guest lost under the
 * command named (GUEST_LOST).
 */
export async function runInGuest(config: Config, state: JobState, run: GuestCommand, io: { stdin: NodeJS.ReadStream; term: string | undefined }): Promise<number> {
  const { stdin } = io;
  if (state.remoteshell === 'console' && state.consoleSocket) {
    if (run.interactive)
      throw new VmbatchError('CONSOLE_FAILED', { socket: state.consoleSocket, reason: "interactive jobs (qsub -I, srun --pty) need remoteshell over SSH; this job's template uses mode='console'" });
    const { runOverConsole } = await import('./console-session.js');
    return await runOverConsole(state.consoleSocket, run.command, process.stdout);
  }
  if (state.sshSocket === undefined) throw new VmbatchError('JOB_NOT_PREPARED', { jobId: state.jobId, stateDir: jobPaths(config.stateDir, state.jobId).dir });
  // a job with a session multiplexer (Slurm) is reached through it: its guest channel is held there
  const viaMux = state.sessionSocket !== undefined && state.sessionHostPublicKey !== undefined;
  const client = await connectGuest({
    socket: viaMux ? state.sessionSocket! : state.sshSocket,
    user: state.user,
    privateKey: readFileSync(jobPaths(config.stateDir, state.jobId).userKey, 'utf8'),
    hostPublicKey: viaMux ? state.sessionHostPublicKey! : state.hostPublicKey,
    plain: viaMux,
  });
  try {
    const output = { stdout: process.stdout, stderr: process.stderr };
    // the staged working directory: copied in before the job, and back after it (rw); a failed copy is reported, never the job's status
    const staged = state.staged;
    // what goes in, so that the copy back leaves the node's files the job did not change
    const sent = staged ? recordSentFiles(staged.hostDir) : undefined;
    if (staged) await reportedCopy('in', staged, () => stageIn(client, staged), process.stderr);
    const tty = stdin.isTTY === true;
    // an interactive job without a terminal (qsub -I with stdin redirected) still reads its commands from stdin
    const pty = run.interactive && tty ? { term: io.term ?? 'vt100', rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } : undefined;
    if (pty) stdin.setRawMode?.(true);
    const withStdin = run.interactive || run.forwardStdin === true;
    const result = await runOnGuest(client, run.command, withStdin ? { ...output, stdin, pty } : output);
    if (pty) stdin.setRawMode?.(false);
    if (withStdin) stdin.unref?.();
    if (result.lost) throw await lostGuestError({ jobId: state.jobId, domain: state.domainName, socket: state.sshSocket });
    if (staged?.mode === 'rw') await reportedCopy('out', staged, () => stageOut(client, staged, config.shares.stageOutMaxMiB * 1048576, sent), process.stderr);
    return result.status;
  } finally {
    client.end();
  }
}
