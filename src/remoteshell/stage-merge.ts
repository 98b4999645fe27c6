import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, unlinkSync, utimesSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * Moves what the node's tar unpacked into a fresh directory (`fromDir`, inside `intoDir`, so
 * every move is a rename) into the staged directory, as the submitter: files and symbolic links
 * replace what is there (a rename never writes through a link), directories are merged (one the
 * node already has keeps its mode; a link there is replaced by the directory, never followed);
 * nothing on the node is deleted but a file or link the guest sends anew. A file the job left
 * as it was sent (its modification time, in whole seconds as tar keeps it, is the one `sent`
 * recorded) does not replace the node's, which may have changed meanwhile (Slurm writes a job's
 * --output file in the submit directory while the job runs). FIFOs and sockets, a file where the
 * node has a directory, and what cannot be moved stay behind: returned, by name.
 */
export function mergeUnpacked(fromDir: string, intoDir: string, sent: SentFiles = new Map()): string[] {
  const left: string[] = [];
  const merge = (rel: string): void => {
    // the submitter unpacked all of it: they may enter any directory whatever mode the job chose
    chmodSync(join(fromDir, rel), 0o700);
    for (const name of readdirSync(join(fromDir, rel))) {
      const member = rel ? `${rel}/${name}` : name;
      try {
        mergeOne(member);
      } catch (error) {
        left.push(`${member} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
    }
  };
  const mergeOne = (member: string): void => {
    const from = join(fromDir, member);
    const to = join(intoDir, member);
    const st = lstatSync(from);
    const there = lstatIfAny(to);
    if (st.isDirectory()) {
      if (there?.isDirectory()) return merge(member);
      if (there) unlinkSync(to);
      mkdirSync(to, 0o700);
      merge(member);
      chmodSync(to, st.mode & 0o777);
      utimesSync(to, st.atime, st.mtime);
    } else if (!st.isFile() && !st.isSymbolicLink()) {
      left.push(`${member} (${kindOf(st)})`);
    } else if (there?.isDirectory()) {
      left.push(`${member} (a directory on the node)`);
    } else if (there && st.isFile() && sent.get(member) === Math.floor(st.mtimeMs / 1000)) {
      // the job did not change it: what the node has now is at least as new
    } else {
      // tar under umask 0 sets no such bit; a file never comes back with one all the same
      if (st.isFile() && st.mode & 0o7000) chmodSync(from, st.mode & 0o777);
      renameSync(from, to);
    }
  };
  merge('');
  return left;
}

/** The regular files copied into a guest, by path relative to the staged directory: their modification time in whole seconds. */
export type SentFiles = Map<string, number>;

/** What `dir` holds before it is copied in (as the submitter: what they cannot read is not recorded, and so never kept back). */
export function recordSentFiles(dir: string): SentFiles {
  const sent: SentFiles = new Map();
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const member = rel ? `${rel}/${name}` : name;
      const st = lstatIfAny(join(dir, member));
      if (st?.isDirectory()) walk(member);
      else if (st?.isFile()) sent.set(member, Math.floor(st.mtimeMs / 1000));
    }
  };
  walk('');
  return sent;
}

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}
