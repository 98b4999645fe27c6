import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { generateKeyPair } from '../context/keys.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { spawnDaemon } from '../exec/spawn-daemon.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { processStartTicks } from '../state/boot-id.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobState, writeJobState, type JobState } from '../state/job-state.js';
import { runSessionMux } from './session-mux.js';

/** The multiplexer's files in a job directory: its socket, key, pid (teardown stops it) and log. */
export function sessionMuxFiles(jobDir: string): { socket: string; hostKey: string; pidFile: string; logFile: string } {
  return { socket: join(jobDir, 'session-mux.sock'), hostKey: join(jobDir, 'session-host-key'), pidFile: join(jobDir, 'session-mux.pid'), logFile: join(jobDir, 'session-mux.log') };
}

/**
 * Starts the job's session multiplexer (runSessionMux) once its guest is ready, and records its
 * socket and host key in the job state: the job's tasks connect there from then on. Its host
 * key is made here, root's file; a multiplexer that does not start is SSH_FAILED.
 */
export async function startSessionMux(config: Config, jobId: string, deadline: number): Promise<void> {
  const paths = jobPaths(config.stateDir, jobId);
  const state = readJobState(paths.stateFile);
  if (!state?.sshSocket) return;
  const files = sessionMuxFiles(paths.dir);
  const key = generateKeyPair(`vmbatch-${jobId}-sessions`);
  writeFileAtomic(files.hostKey, key.privateKey, { mode: 0o600 });
  const recordPid = (pid: number) => writeFileAtomic(files.pidFile, `${pid} ${processStartTicks(pid) ?? ''}\n`, { mode: 0o644 });
  const started = await spawnDaemon([process.execPath, vmbatchMain, 'session-mux', jobId], {
    logFile: files.logFile,
    timeoutMs: Math.max(1000, Math.min(30_000, deadline - Date.now())),
    onSpawn: recordPid,
  });
  if (!started.ready) {
    rmSync(files.pidFile, { force: true });
    const log = readFileSync(files.logFile, 'utf8').trim().split('\n').slice(-3).join(' / ');
    throw new VmbatchError('SSH_FAILED', {
      target: `${state.user}@${state.sshSocket}`,
      reason: `the job's session multiplexer did not start (exit ${started.exitCode ?? 'none'}): ${log || 'no message'}`,
    });
  }
  const updated: JobState = { ...state, sessionSocket: files.socket, sessionHostPublicKey: key.publicKey };
  writeJobState(paths.stateFile, updated);
}

/** `vmbatch session-mux JOBID` (root; started by startSessionMux): serves the job's sessions until its guest's connection ends. */
export async function sessionMuxCommand(config: Config, jobId: string): Promise<void> {
  const paths = jobPaths(config.stateDir, jobId);
  const state = readJobState(paths.stateFile);
  if (!state?.sshSocket) throw new VmbatchError('JOB_NOT_PREPARED', { jobId, stateDir: paths.dir });
  await runSessionMux({
    guestSocket: state.sshSocket,
    listenSocket: sessionMuxFiles(paths.dir).socket,
    user: state.user,
    uid: state.uid,
    gid: state.gid ?? state.uid,
    userPrivateKey: readFileSync(paths.userKey, 'utf8'),
    guestHostPublicKey: state.hostPublicKey,
    muxHostPrivateKey: readFileSync(sessionMuxFiles(paths.dir).hostKey, 'utf8'),
  });
}
