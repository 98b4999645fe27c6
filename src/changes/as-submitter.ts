import { closeSync, constants, openSync, rmSync, statSync } from 'node:fs';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';

/** The submitter a file operation runs as. */
export interface SubmitterIds {
  uid: number;
  gid: number;
}

// what the submitter's own processes see: no environment of root's
const env = { PATH: '/bin:/usr/bin' };
// a directory every user may enter (the hook's own may be root's alone)
const cwd = '/';

/**
 * Copies a file of the submitter's into a new root file `to` (O_EXCL, 0600): the submitter's
 * process reads it with their rights alone (their links, their permissions), so root opens no
 * path they control; at most `maxBytes` + 1 bytes arrive. Returns the bytes copied, or the
 * reason it could not be read (the file is then removed).
 */
export async function copyFromSubmitter(who: SubmitterIds, from: string, to: string, maxBytes: number): Promise<{ bytes: number } | { unreadable: string }> {
  const fd = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    // a FIFO or a device in place of the file would keep the read waiting: a regular file only
    // dd in 4 MiB blocks: a tenth of head's system calls (the copy is on the job's way to ready)
    const script = 'if [ -e "$2" ] && [ ! -f "$2" ]; then echo "$2: not a regular file" >&2; exit 1; fi; exec dd if="$2" bs=4M count="$1" iflag=count_bytes status=none >&3';
    const read = await runTool(['sh', '-c', script, 'vmbatch-read', String(maxBytes + 1), from], { uid: who.uid, gid: who.gid, env, cwd, fd3: fd, okExitCodes: [1], timeoutMs: 300_000 });
    if (read.exitCode !== 0) {
      rmSync(to, { force: true });
      return { unreadable: read.stderr.trim().replace(/^dd: /, '') || `dd exited with ${read.exitCode}` };
    }
  } finally {
    closeSync(fd);
  }
  return { bytes: statSync(to).size };
}

/** A text file of the submitter's (at most `maxBytes`), read with their rights; undefined when they cannot read it. */
export async function readTextAsSubmitter(who: SubmitterIds, file: string, maxBytes: number): Promise<string | undefined> {
  const read = await runTool(['head', '-c', String(maxBytes), '--', file], { uid: who.uid, gid: who.gid, env, cwd, okExitCodes: [1], timeoutMs: 30_000 });
  return read.exitCode === 0 ? read.stdout : undefined;
}

/**
 * The identity of a submitter's layer file as their own process sees it: device, inode, size,
 * modification and change time (nanoseconds). Writing the file changes its change time, which
 * no user can set back, so a changed layer has another identity. Undefined when it is not a
 * regular file they can stat.
 */
export async function layerIdentity(who: SubmitterIds, file: string): Promise<string | undefined> {
  const script = '[ -f "$1" ] && exec stat -L -c "%d:%i:%s:%.9Y:%.9Z" -- "$1"';
  const run = await runTool(['sh', '-c', script, 'vmbatch-stat', file], { uid: who.uid, gid: who.gid, env, cwd, okExitCodes: [1], timeoutMs: 30_000 });
  return run.exitCode === 0 && /^\d+:\d+:\d+:[\d.]+:[\d.]+\n?$/.test(run.stdout) ? run.stdout.trim() : undefined;
}

/**
 * Writes into the submitter's space as the submitter: makes `dir` (their rights, mode 0700 for
 * what it makes), then each file from root's open `source` (fd) or text, to NAME.part and
 * renamed into place, so a reader never sees half a file. Throws TOOL_FAILED with their shell's
 * words when they cannot write there.
 */
export async function writeAsSubmitter(who: SubmitterIds, dir: string, files: { path: string; fd?: number; text?: string }[]): Promise<void> {
  await runTool(['sh', '-c', 'umask 077 && mkdir -p -- "$1"', 'vmbatch-write', dir], { uid: who.uid, gid: who.gid, env, cwd, timeoutMs: 30_000 });
  for (const f of files) {
    // set -C: the part file is made new (O_EXCL), never a FIFO or link the submitter put there
    const script = `umask 077 && rm -f -- "$1.part" && set -C && cat ${f.fd === undefined ? '' : '<&3 '}> "$1.part" && mv -f -- "$1.part" "$1"`;
    try {
      await runTool(['sh', '-c', script, 'vmbatch-write', f.path], { uid: who.uid, gid: who.gid, env, cwd, timeoutMs: 300_000, ...(f.fd === undefined ? { input: f.text ?? '' } : { fd3: f.fd }) });
    } catch (error) {
      if (isVmbatchError(error, 'TOOL_FAILED')) await runTool(['rm', '-f', '--', `${f.path}.part`], { uid: who.uid, gid: who.gid, env, cwd, okExitCodes: [1] }).catch(() => undefined);
      throw error;
    }
  }
}
