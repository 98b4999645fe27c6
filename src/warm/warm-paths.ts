import { join } from 'node:path';

/** Where the saved states live: one directory per key, root's, traversable by the guests' group (the frozen disks are their bases). */
export function warmRoot(stateDir: string): string {
  return join(stateDir, 'warm');
}

/** The files of one saved state. */
export interface WarmEntryPaths {
  dir: string;
  /** what was saved, from what, and the fingerprint that must still hold (WarmMeta) */
  meta: string;
  /** libvirt's save image (memory and device state): root's alone */
  memoryState: string;
  /** the lock a build holds while it makes or replaces the entry */
  lock: string;
}

/** An entry's directory name: the first 16 hex digits of its key. */
export function warmEntryName(key: string): string {
  return key.slice(0, 16);
}

/** The paths of the entry with `key` (or of a build directory, `dir` given). */
export function warmEntryPaths(stateDir: string, key: string, dir = join(warmRoot(stateDir), warmEntryName(key))): WarmEntryPaths {
  return { dir, meta: join(dir, 'meta.json'), memoryState: join(dir, 'memory.state'), lock: join(warmRoot(stateDir), `.${warmEntryName(key)}.lock`) };
}

/** The domain a build boots and saves: not a job's (reconcile leaves vmbatch-JOBID domains to jobs). */
export function warmBuildDomainName(key: string): string {
  return `vbwarm-${key.slice(0, 12)}`;
}
