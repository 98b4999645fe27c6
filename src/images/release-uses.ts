import type { Logger } from '../log/logger.js';
import { readCacheUses } from './cache-context.js';
import { releaseOnceDisk } from './created-disk.js';

/**
 * Releases every cache entry a job noted: its use records go, and a created='once' disk it
 * seeded gets its writes committed (or dropped when other jobs use the disk, or when `keepSeed`
 * is false: a job whose guest never got ready has nothing worth keeping). Idempotent.
 */
export async function releaseCacheUses(usesFile: string, jobRef: string, log: Logger, options: { keepSeed: boolean } = { keepSeed: true }): Promise<void> {
  for (const use of readCacheUses(usesFile)) {
    const outcome = await releaseOnceDisk(use.entry, jobRef, use.seed, options);
    if (outcome === 'refused') log.warn('seed refused: its overlay no longer names only the disk as its backing file; its writes are dropped', { disk: use.entry.dir, job: jobRef });
    else if (outcome !== 'released') log.info(outcome === 'committed' ? 'seed committed' : 'seed dropped: the disk is in use by other jobs', { disk: use.entry.dir, job: jobRef });
  }
}
