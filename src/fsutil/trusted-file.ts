import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats } from 'node:fs';

// Root reads state it wrote earlier (a parsed catalogue, say) only when no local user can have
// written it: the file and every directory above it, up to the root of that state, must be
// owned by root (or by the user running vmbatch) and writable by nobody else, and none of them
// may be a symbolic link. The file is checked on the descriptor that is read (fstat), so it
// cannot be swapped between the check and the read; the directories cannot be swapped either
// once their parents are known not to be writable by others.

/** What a trusted read finds: the text, a reason not to trust it, or nothing there. */
export type TrustedRead = { text: string } | { untrusted: string } | { absent: true };

/** The owners whose files root trusts: root, and the user running vmbatch (an admin's own cache). */
function trustedOwners(): number[] {
  const euid = process.geteuid?.() ?? 0;
  return euid === 0 ? [0] : [0, euid];
}

/** Why `path` (lstat or fstat of it) cannot be trusted; undefined when it can. `owners`: who may own it (root and the user running vmbatch unless told). */
export function untrustedReason(path: string, stats: Stats, kind: 'file' | 'directory', owners = trustedOwners()): string | undefined {
  if (stats.isSymbolicLink()) return `${path} is a symbolic link`;
  if (kind === 'file' ? !stats.isFile() : !stats.isDirectory()) return `${path} is not a ${kind === 'file' ? 'regular file' : 'directory'}`;
  if (!owners.includes(stats.uid)) return `${path} is owned by uid ${stats.uid}, not by ${owners.length === 1 ? 'root' : `root or uid ${owners[1]}`}`;
  if ((stats.mode & 0o022) !== 0) return `${path} is writable by its group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/** Why the first of `dirs` (outermost first) that cannot be trusted cannot; undefined when all can, or one is missing. */
export function untrustedDirReason(dirs: string[]): string | undefined {
  for (const dir of dirs) {
    let stats: Stats;
    try {
      stats = lstatSync(dir);
    } catch (error) {
      // a missing directory holds nothing to trust; the reader then finds the file absent
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const reason = untrustedReason(dir, stats, 'directory');
    if (reason) return reason;
  }
  return undefined;
}

/** Reads `file` when it and `dirs` (the directories above it, outermost first) are trusted; never follows a symbolic link. */
export function readTrustedFile(file: string, dirs: string[]): TrustedRead {
  const dirReason = untrustedDirReason(dirs);
  if (dirReason) return { untrusted: dirReason };
  const read = readTrustedBytes(file);
  return 'bytes' in read ? { text: read.bytes.toString('utf8') } : read;
}

/** The bytes of `file` when the file opened (never through a symbolic link) passes untrustedReason with `owners`; why not, or that it is absent, otherwise. */
export function readTrustedBytes(file: string, owners = trustedOwners()): { bytes: Buffer } | { untrusted: string } | { absent: true } {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in place of the file must not hang the prologue
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { absent: true };
    if (code === 'ELOOP') return { untrusted: `${file} is a symbolic link` };
    throw error;
  }
  try {
    const reason = untrustedReason(file, fstatSync(fd), 'file', owners);
    return reason ? { untrusted: reason } : { bytes: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}
