import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { readJsonRecord } from '../fsutil/read-json.js';
import { hashSpecSchema } from './hash-spec.js';

/** The image cache directory of a configuration (images.cacheDir, else STATEDIR/cache). */
export function cacheDirOf(config: Config): string {
  return config.images.cacheDir ?? join(config.stateDir, 'cache');
}

/** The two namespaces of the cache: downloaded images by URL, created disks by name, size and format. */
export type EntryKind = 'download' | 'created';

/** The files of one cache entry; the directory and the lock file stay while the entry exists. */
export interface EntryPaths {
  key: string;
  dir: string;
  data: string;
  meta: string;
  lock: string;
  users: string;
  lastUsed: string;
  seeding: string;
}

/** The key of an entry: the digest of what identifies it (the URL of a download). */
export function entryKey(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}

/** The paths of the entry with `key` of `kind` below `cacheDir`. */
export function entryPaths(cacheDir: string, kind: EntryKind, key: string): EntryPaths {
  const dir = join(cacheDir, kind === 'download' ? 'images' : 'created', key);
  return {
    key,
    dir,
    data: join(dir, 'image'),
    meta: join(dir, 'meta.json'),
    lock: join(dir, 'lock'),
    users: join(dir, 'users'),
    lastUsed: join(dir, 'last-used'),
    seeding: join(dir, 'seeding'),
  };
}

/** What the cache records of an entry, written (atomically) only once its data is complete and verified. */
export const entryMetaSchema = z.object({
  version: z.literal(1),
  kind: z.enum(['download', 'created']),
  /** the URL, or `create:NAME` for a created disk */
  identity: z.string(),
  bytes: z.number().int().nonnegative(),
  /** digests of the data, computed while it streamed in (created disks have none) */
  digests: z.array(hashSpecSchema),
  /** qemu-img's name of the format and the disk's virtual size */
  format: z.string(),
  virtualSize: z.number().int().nonnegative(),
  createdAt: z.string(),
  /** a created='once' disk into which a first job's writes were committed */
  sealed: z.boolean().default(false),
});
/** The record of a complete entry. */
export type EntryMeta = z.infer<typeof entryMetaSchema>;

/** The entry's record; undefined when the entry is not complete (or damaged, which counts as absent). */
export function readEntryMeta(paths: EntryPaths): EntryMeta | undefined {
  return readJsonRecord(paths.meta, entryMetaSchema);
}

/** Writes the entry's record (the step that makes an entry complete). */
export function writeEntryMeta(paths: EntryPaths, meta: EntryMeta): void {
  writeFileAtomic(paths.meta, JSON.stringify(meta, null, 2) + '\n', { mode: 0o644 });
}
