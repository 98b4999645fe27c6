import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { readTrustedBytes, untrustedReason } from '../fsutil/trusted-file.js';

// V8's compiled code for a bundled command file is code: whoever can write it runs code in
// every hook, root's included. So an entry is written only by root, into a directory that
// root owns and nobody else can write (nor any directory above it, sticky ones aside), and is
// read only when it and that directory chain pass the same checks, without following links.
// V8's own check of an entry only compares the source's length: the key is a hash of the
// source, the node version and the architecture, so an upgraded file never meets old code.

/** Where root keeps compiled code for the package's command files: VMBATCH_CODE_CACHE, 'off' for none. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.VMBATCH_CODE_CACHE ?? '/var/cache/vmbatch/code';
  return dir === 'off' || !dir.startsWith('/') ? undefined : dir;
}

/** The entry of one source file in a cache directory: its name carries the file's name and the key. */
export function codeCacheEntry(dir: string, file: string, source: string): string {
  const key = createHash('sha256').update(`${process.version}\0${process.arch}\0`).update(source).digest('hex').slice(0, 32);
  return join(dir, `${basename(file)}.${key}.v8`);
}

/** An entry's compiled code when the entry and every directory above it are trusted; undefined otherwise (absent, or not to be trusted). */
export function readCodeCache(entry: string): Buffer | undefined {
  if (!trustedChain(dirname(entry))) return undefined;
  try {
    const read = readTrustedBytes(entry, [0]);
    return 'bytes' in read ? read.bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Root only: writes an entry atomically (mode 0644), making its directory (0755, not its parents) if need be, and removes the file's older entries. Failures are ignored: the cache only saves time. */
export function writeCodeCache(entry: string, data: Buffer): void {
  if (process.geteuid?.() !== 0) return;
  const dir = dirname(entry);
  const temp = `${entry}.${process.pid}.tmp`;
  let created = false;
  try {
    // made only below directories already trusted, never through a link
    if (!trustedChain(dirname(dir))) return;
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o755 });
    if (!trustedChain(dir)) return;
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    created = true;
    try {
      writeFileSync(fd, data);
      // a umask of 077 must not hide the entry from the job's user (remoteshell runs as them)
      fchmodSync(fd, 0o644);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, entry);
    const prefix = `${basename(entry).split('.').slice(0, -2).join('.')}.`;
    for (const old of readdirSync(dir)) if (old.startsWith(prefix) && old.endsWith('.v8') && old !== basename(entry)) rmSync(join(dir, old), { force: true });
  } catch {
    // a read-only or full /var/cache: the next run compiles again
    if (created) rmSync(temp, { force: true });
  }
}

// The directory itself must be root's and writable by nobody else; the ones above it too, or
// sticky (/tmp): there nobody else can rename or remove root's entries either.
function trustedChain(dir: string): boolean {
  const parts = dir.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const path = sep + parts.slice(0, i).join(sep);
    let stats;
    try {
      stats = lstatSync(path);
    } catch {
      return false;
    }
    const sticky = i < parts.length && (stats.mode & 0o1000) !== 0 && stats.isDirectory() && stats.uid === 0;
    if (!sticky && untrustedReason(path, stats, 'directory', [0])) return false;
  }
  return true;
}
