import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { spawnDaemon } from '../exec/spawn-daemon.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import type { Submitter } from '../job/submitter.js';
import { processStartTicks } from '../state/boot-id.js';
import type { SharedDirectory } from './plan-shares.js';

/** The launcher that turns root into the share's daemon running as the submitter (virtiofsd-launch.pl). */
export const shareLauncher = fileURLToPath(new URL('./host/virtiofsd-launch.pl', import.meta.url));

// exit status of the launcher when the submitter cannot enter the directory
const userCannotEnter = 3;

/**
 * Starts one virtiofs daemon per shared directory before the guest boots, each as the submitter
 * in a user namespace of their uid and gid alone, with a socket only the job's qemu may open
 * (libvirt connects qemu to it). Records each daemon's pid and start time for teardown. A
 * directory the submitter cannot enter fails the job (SHARE_UNAVAILABLE); a daemon that does
 * not start otherwise is the node's fault (SHARE_DAEMON_FAILED).
 */
export async function startShares(shares: SharedDirectory[], opts: { submitter: Submitter; qemuUid: number; virtiofsd: string; deadline: number }): Promise<void> {
  if (shares.length && !existsSync(opts.virtiofsd)) {
    throw new VmbatchError('SHARE_DAEMON_FAILED', { path: shares[0]!.path, reason: `${opts.virtiofsd} does not exist (Debian: apt install qemu-system-common; or set shares.virtiofsd)` });
  }
  for (const share of shares) {
    const { uid, gid } = opts.submitter;
    const argv = [
      '/usr/bin/perl',
      shareLauncher,
      share.socket,
      String(opts.qemuUid),
      share.path,
      share.mode,
      String(uid),
      String(gid),
      '--',
      // the job's files stay on the node: no cache across jobs' writes beyond what virtiofs
      // does by default, no xattrs (file capabilities), the open-files limit left as it is
      opts.virtiofsd,
      '-o',
      'sandbox=namespace',
      '-o',
      'no_xattr',
      '-o',
      'no_posix_lock',
      '-o',
      'no_flock',
      '--rlimit-nofile=0',
    ];
    // the job directory is root's: a socket or log left by an earlier attempt is only in the way
    rmSync(share.socket, { force: true });
    rmSync(share.logFile, { force: true });
    const recordPid = (pid: number) => writeFileAtomic(share.pidFile, `${pid} ${processStartTicks(pid) ?? ''}\n`, { mode: 0o644 });
    const started = await spawnDaemon(argv, { logFile: share.logFile, timeoutMs: Math.max(1000, Math.min(10_000, opts.deadline - Date.now())), onSpawn: recordPid });
    if (!started.ready) {
      rmSync(share.socket, { force: true });
      rmSync(share.pidFile, { force: true });
      const reason = lastLines(share.logFile) || `the launcher ended with exit status ${started.exitCode ?? 'unknown'}`;
      if (started.exitCode === userCannotEnter) throw new VmbatchError('SHARE_UNAVAILABLE', { path: share.path, user: opts.submitter.user, reason });
      throw new VmbatchError('SHARE_DAEMON_FAILED', { path: share.path, reason });
    }
  }
}

// The last lines the launcher or daemon logged, one line.
function lastLines(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-2).join('; ').slice(0, 500);
  } catch {
    return '';
  }
}
