import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync, chownSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Options of an atomic write. */
export interface AtomicWriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Writes a file atomically (per-process temp name in the same directory, fsync, rename) with exactly `mode`, whatever the umask. */
export function writeFileAtomic(path: string, data: string | Buffer, options: AtomicWriteOptions = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp.${process.pid}.${counter++}`);
  const fd = openSync(tmp, 'wx', options.mode ?? 0o644);
  try {
    // hooks run with pbs_mom's umask (0077): the mode asked for must be the mode set
    fchmodSync(fd, options.mode ?? 0o644);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    // a failed write (ENOSPC) must not leak the descriptor: it would keep the file's space
    closeSync(fd);
    rmSync(tmp, { force: true });
    // write(2)'s error names no file: name the one being written (DISK_FULL shows it)
    if (error instanceof Error && (error as NodeJS.ErrnoException).path === undefined) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
  try {
    closeSync(fd);
    if (options.uid !== undefined) chownSync(tmp, options.uid, options.gid ?? -1);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
