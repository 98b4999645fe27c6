import { appendFileSync, readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import type { EntryPaths } from './cache-entry.js';
import type { CowFormat } from './disk-formats.js';

/** What preparing a job's disks needs to know beyond the plan. */
export interface CacheContext {
  cacheDir: string;
  /** HOST--JOBID: names the job in use records and lock files */
  jobRef: string;
  /** epoch ms: lock waits end here (the prologue's budget) */
  deadline: number;
  stallTimeoutMs: number;
  maxRedirects: number;
  /** images.caFile: extra CAs trusted for https downloads */
  caFile?: string;
  createOnceWaitMs: number;
  /** images.maxVirtualSizeMiB in bytes: the largest virtual size of a template's image */
  maxVirtualBytes?: number;
  /** whether the job's user is one of images.createOnceSeeders: only then may it seed a create='once' disk */
  createOnceSeeder?: boolean;
  /** the guests' group (guestIdentity.group): a submitter's cached image is readable by it alone (needed only for those) */
  guestGid?: number;
  /** the job's record of the entries it uses (JobPaths.cacheUses) */
  usesFile: string;
  log: Logger;
  onProgress?: (label: string, got: number, total: number | undefined) => void;
}

/** One cache entry a job uses; `seed` when the job is the first writer of a created='once' disk. */
export interface CacheUse {
  entry: EntryPaths;
  seed?: { overlay: string; cow: CowFormat };
}

/** Notes a use in the job's record, before the use record in the cache is made, so teardown finds it. */
export function noteCacheUse(usesFile: string, use: CacheUse): void {
  appendFileSync(usesFile, JSON.stringify(use) + '\n', { mode: 0o644 });
}

/** The uses a job noted (none when it noted nothing). */
export function readCacheUses(usesFile: string): CacheUse[] {
  let text: string;
  try {
    text = readFileSync(usesFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CacheUse);
}
