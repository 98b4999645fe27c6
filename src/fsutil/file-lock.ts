import { closeSync, fchmodSync, fstatSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { ensureDir } from './ensure-dir.js';

/** A held lock; release() is idempotent. */
export interface FileLock {
  path: string;
  release(): void;
}

// flock's exit code when the lock was not had within -w seconds
const lockTimedOut = 75;

/**
 * Takes an exclusive lock on `path` (created if missing), waiting up to `timeoutMs`. The lock is
 * flock(2) on an open file description that this process keeps: the kernel drops it when the
 * process dies, even by SIGKILL, so a crashed prologue never leaves it held; over NFS the client
 * maps it to a byte-range lock that the server releases when the client's lease ends. `flock(1)`
 * takes it on our descriptor (fd 3) and exits, so the wait is the kernel's, not a poll. The
 * holder writes who it is into the file, which a waiter that times out reports.
 */
export async function acquireFileLock(path: string, options: { timeoutMs: number; purpose: string }): Promise<FileLock> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    // the holder of a removed entry may have taken the directory with it
    ensureDir(dirname(path), 0o755);
    let fd: number;
    try {
      fd = openSync(path, 'a+', 0o644);
    } catch (error) {
      // a sweep removed the directory between the two calls: make it again
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    let held = false;
    try {
      fchmodSync(fd, 0o644);
      const seconds = Math.max(0, (deadline - Date.now()) / 1000).toFixed(3);
      const result = await runTool(['flock', '-x', '-E', String(lockTimedOut), '-w', seconds, '3'], { fd3: fd, okExitCodes: [lockTimedOut] });
      if (result.exitCode === lockTimedOut) {
        throw new VmbatchError('CACHE_LOCK_TIMEOUT', { path, seconds: Math.round(options.timeoutMs / 1000), holder: readHolder(path) });
      }
      // a lock on a file that was removed meanwhile (prune) guards nothing: take the new one
      if (!sameFile(fd, path)) continue;
      ftruncateSync(fd, 0);
      writeSync(fd, `${hostname()} pid ${process.pid} since ${new Date().toISOString()}: ${options.purpose}\n`, 0);
      held = true;
      return {
        path,
        release: () => {
          if (!held) return;
          held = false;
          try {
            ftruncateSync(fd, 0);
          } finally {
            closeSync(fd);
          }
        },
      };
    } finally {
      if (!held) closeSync(fd);
    }
  }
}

/** Runs `step` with the lock held and releases it afterwards, also on failure. */
export async function withFileLock<T>(path: string, options: { timeoutMs: number; purpose: string }, step: () => Promise<T>): Promise<T> {
  const lock = await acquireFileLock(path, options);
  try {
    return await step();
  } finally {
    lock.release();
  }
}

function sameFile(fd: number, path: string): boolean {
  try {
    return statSync(path).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

function readHolder(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim() || 'an unknown process';
  } catch {
    return 'an unknown process';
  }
}
