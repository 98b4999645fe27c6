import { existsSync, renameSync, rmSync, watch } from 'node:fs';
import { hostname } from 'node:os';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { entryKey, entryPaths, readEntryMeta, writeEntryMeta, type EntryMeta, type EntryPaths } from './cache-entry.js';
import { noteCacheUse, type CacheContext } from './cache-context.js';
import { addEntryUser, entryUsers, removeEntryUser } from './cache-users.js';
import { commitOverlay, createEmptyDisk, qemuFormatOf, type CowFormat, type CreatedFormat } from './disk-formats.js';
import { readTrimmedText } from '../fsutil/read-text.js';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { checkImageHeader } from './check-image.js';

/** A created='once' disk and whether this job is its first writer (the seed). */
export interface OnceDisk {
  paths: EntryPaths;
  meta: EntryMeta;
  seed: boolean;
}

/** Whether a job's user is one the admin designated (images.createOnceSeeders: names or uids) to seed create='once' disks. */
export function isCreateOnceSeeder(seeders: (string | number)[], who: { user: string; uid: number }): boolean {
  return seeders.some((s) => s === who.user || s === who.uid);
}

/**
 * Gets the created='once' disk `name`: made empty by the first job that asks, then shared by
 * every job through copy-on-write overlays. The first job of a designated user
 * (images.createOnceSeeders, ctx.createOnceSeeder) to run alone on a disk nobody has filled yet
 * is its seed; any other job's writes stay in its own overlay, which its teardown drops. At the
 * seed's teardown its overlay is committed into the disk (e.g. a filled CernVM-FS cache) when
 * no other job uses the disk, so later jobs start from it. Jobs
 * that come while a seed runs wait up to images.createOnceWaitSeconds for it, then start from
 * the disk as it is (their overlays never see the seed's writes, which are then dropped).
 */
export async function ensureOnceDisk(ctx: CacheContext, disk: { name: string; sizeMiB: number; format: CreatedFormat; overlay: string; cow: CowFormat }): Promise<OnceDisk> {
  const paths = entryPaths(ctx.cacheDir, 'created', entryKey(`create:${disk.name}:${disk.sizeMiB}:${disk.format}`));
  ensureDir(paths.dir, 0o755);
  const waitUntil = Math.min(ctx.deadline, Date.now() + ctx.createOnceWaitMs);
  for (;;) {
    const outcome = await withFileLock(paths.lock, { timeoutMs: Math.max(0, ctx.deadline - Date.now()), purpose: `job ${ctx.jobRef} using disk ${disk.name}` }, async () => {
      let meta = readEntryMeta(paths);
      if (!meta) meta = await createOnce(paths, disk);
      // a seed's commit wrote guest data into it: read its header again before anyone uses it
      else await checkImageHeader(paths.data, meta.format, meta.identity);
      const seeding = existsSync(paths.seeding);
      if (seeding && Date.now() < waitUntil) return 'wait' as const;
      const couldSeed = !meta.sealed && !seeding && entryUsers(paths).length === 0;
      // a seed writes for every later job of every user: the admin chooses who may
      const seed = couldSeed && ctx.createOnceSeeder === true;
      if (seed) ctx.log.info('seeding', { disk: paths.dir, name: disk.name, job: ctx.jobRef });
      else if (couldSeed) ctx.log.info('not a seed: the job is not one of images.createOnceSeeders; its writes stay in its overlay', { disk: paths.dir, name: disk.name, job: ctx.jobRef });
      noteCacheUse(ctx.usesFile, { entry: paths, ...(seed ? { seed: { overlay: disk.overlay, cow: disk.cow } } : {}) });
      if (seed) writeFileAtomic(paths.seeding, ctx.jobRef + '\n', { mode: 0o644 });
      addEntryUser(paths, ctx.jobRef);
      return { paths, meta, seed };
    });
    if (outcome !== 'wait') return outcome;
    await waitForRemoval(paths.seeding, waitUntil - Date.now());
  }
}

async function createOnce(paths: EntryPaths, disk: { name: string; sizeMiB: number; format: CreatedFormat }): Promise<EntryMeta> {
  const part = `${paths.data}.part-${hostname()}-${process.pid}`;
  rmSync(part, { force: true });
  try {
    await createEmptyDisk({ format: disk.format, file: part, sizeMiB: disk.sizeMiB, mode: 0o644 });
    renameSync(part, paths.data);
  } catch (error) {
    rmSync(part, { force: true });
    throw error;
  }
  const meta: EntryMeta = {
    version: 1,
    kind: 'created',
    identity: `create:${disk.name}`,
    bytes: 0,
    digests: [],
    format: qemuFormatOf(disk.format),
    virtualSize: disk.sizeMiB * 1048576,
    createdAt: new Date().toISOString(),
    sealed: false,
  };
  writeEntryMeta(paths, meta);
  return meta;
}

/**
 * Ends a job's use of a created='once' disk. A seed's overlay is committed into the disk when
 * no other job uses it (then the disk is sealed); otherwise the seed's writes are dropped and
 * a later job may seed. Idempotent.
 */
export async function releaseOnceDisk(
  paths: EntryPaths,
  jobRef: string,
  seed: { overlay: string; cow: CowFormat } | undefined,
  options: { keepSeed: boolean } = { keepSeed: true },
): Promise<'committed' | 'dropped' | 'released' | 'refused'> {
  if (!seed) {
    removeEntryUser(paths, jobRef);
    return 'released';
  }
  if (!existsSync(paths.dir)) return 'released';
  return withFileLock(paths.lock, { timeoutMs: 60_000, purpose: `job ${jobRef} releasing its seed` }, async () => {
    let outcome: 'committed' | 'dropped' | 'released' | 'refused' = 'released';
    if (readTrimmedText(paths.seeding) === jobRef) {
      const others = entryUsers(paths).filter((u) => u !== jobRef);
      const meta = readEntryMeta(paths);
      if (options.keepSeed && others.length === 0 && meta && existsSync(seed.overlay)) {
        if (await overlayIsOurs(seed, paths.data)) {
          await commitOverlay(seed.cow, seed.overlay);
          writeEntryMeta(paths, { ...meta, sealed: true });
          outcome = 'committed';
        } else outcome = 'refused';
      } else outcome = 'dropped';
      rmSync(paths.seeding, { force: true });
    }
    removeEntryUser(paths, jobRef);
    return outcome;
  });
}

// Root's `qemu-img commit` opens the overlay and what it names: the overlay must name the disk
// as its backing file and nothing else (no other backing file, no data file), as vmbatch made
// it. A guest (or an escaped qemu) that rewrote the header gets its writes dropped ('refused').
async function overlayIsOurs(seed: { overlay: string; cow: CowFormat }, base: string): Promise<boolean> {
  try {
    const header = await checkImageHeader(seed.overlay, qemuFormatOf(seed.cow), seed.overlay, { expectedBacking: base });
    return header.backingFile === base || header.parent === base;
  } catch (error) {
    if (isVmbatchError(error)) return false;
    throw error;
  }
}

// Waits for a file to go: inotify on this node, a slow poll for other nodes sharing the cache.
async function waitForRemoval(file: string, timeoutMs: number): Promise<void> {
  if (timeoutMs <= 0 || !existsSync(file)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const poll = setInterval(() => !existsSync(file) && done(), 1000);
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(file, () => !existsSync(file) && done());
    } catch {
      done();
    }
  });
}
