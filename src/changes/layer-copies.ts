import { chmodSync, chownSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { withFileLock } from '../fsutil/file-lock.js';

// a copy no job started from for this long is removed by the next one made for that submitter
const unusedForMs = 24 * 3600 * 1000;

/** Where root keeps checked copies of one submitter's layers: STATEDIR/changes-copies/UID (root 0711; the copies root:GUESTS 0440). */
export function layerCopiesDir(stateDir: string, uid: number): string {
  return join(stateDir, 'changes-copies', String(uid));
}

/**
 * Root's checked copy of a layer that jobs only boot from, shared by that submitter's jobs:
 * found by what identifies the layer (its file's identity, or its URL's hash) and the base it
 * is attached to, or made once by `make` (which fills, checks and attaches a new file) under the
 * submitter's lock and renamed into place whole. A copy is never written again: jobs' overlays
 * lie over it. Returns its path.
 */
export async function sharedLayerCopy(input: {
  stateDir: string;
  uid: number;
  guestGid: number;
  /** the layer's name (file name safe) and identity; the base it is attached to */
  name: string;
  identity: string;
  base: string;
  deadline: number;
  make: (file: string) => Promise<void>;
}): Promise<string> {
  const dir = layerCopiesDir(input.stateDir, input.uid);
  ensureDir(dir, 0o711);
  const key = createHash('sha256').update(`${input.identity}\n${input.base}`).digest('hex').slice(0, 24);
  const copy = join(dir, `${input.name}--${key}.qcow2`);
  return withFileLock(join(dir, '.lock'), { timeoutMs: Math.max(0, input.deadline - Date.now()), purpose: `a copy of saved changes '${input.name}'` }, async () => {
    const now = new Date();
    try {
      // used now: not removed as unused while this job starts from it
      utimesSync(copy, now, now);
      return copy;
    } catch {
      // not made yet
    }
    const part = `${copy}.part`;
    rmSync(part, { force: true });
    try {
      await input.make(part);
      chownSync(part, 0, input.guestGid);
      chmodSync(part, 0o440);
      renameSync(part, copy);
    } finally {
      rmSync(part, { force: true });
    }
    removeUnused(dir, now.getTime());
    return copy;
  });
}

// Copies no job started from for a day (their running jobs hold them open in qemu: nothing opens
// them by name again), and parts a crashed prologue left (only the lock's holder writes parts)
function removeUnused(dir: string, now: number): void {
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (name.endsWith('.qcow2.part') || (name.endsWith('.qcow2') && now - statSync(file).mtimeMs > unusedForMs)) rmSync(file, { force: true });
  }
}
