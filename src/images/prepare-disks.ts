import { existsSync, rmSync } from 'node:fs';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { CacheContext } from './cache-context.js';
import { ensureOnceDisk } from './created-disk.js';
import { createCowOverlay, createEmptyDisk } from './disk-formats.js';
import type { DiskPlan } from './disk-plan.js';
import { checkImage, checkImageHeader } from './check-image.js';
import { ensureCachedImage, limitsOf } from './ensure-cached.js';
import { displayUrl } from './image-source.js';
import { fetchImage } from './fetch-image.js';

/**
 * Performs the disk part of a plan: fetches images (through the shared cache or for the job
 * alone), creates empty disks and makes the per-job copy-on-write overlays. What it makes in
 * the job's directory goes with the directory; what it uses in the cache is noted in the
 * job's record of cache uses, which teardown releases.
 */
export async function prepareDisks(disks: DiskPlan[], ctx: CacheContext): Promise<void> {
  for (const disk of disks) {
    if (disk.kind === 'context') continue;
    const { base } = disk;
    let baseFile: string;
    let virtualSize: number;
    switch (base.kind) {
      case 'file':
        if (!existsSync(base.path)) throw new VmbatchError('BASE_IMAGE_MISSING', { target: disk.target, path: base.path });
        baseFile = base.path;
        // the site's own file, yet checked like any base: the overlay is made without opening it
        virtualSize = (await checkImageHeader(base.path, disk.baseFormat, base.path, { maxVirtualBytes: ctx.maxVirtualBytes })).virtualSize;
        break;
      case 'shared': {
        const cached = await ensureCachedImage(ctx, base.source, disk.baseFormat);
        baseFile = cached.paths.data;
        virtualSize = cached.meta.virtualSize;
        break;
      }
      case 'download':
        await fetchImage({
          source: base.source,
          file: disk.file,
          // the job's own copy: private from its first byte
          mode: 0o600,
          stallTimeoutMs: ctx.stallTimeoutMs,
          maxRedirects: ctx.maxRedirects,
          caFile: ctx.caFile,
          deadline: ctx.deadline,
          onProgress: ctx.onProgress && ((got, total) => ctx.onProgress!(displayUrl(base.source.url), got, total)),
        });
        try {
          await checkImage(disk.file, disk.baseFormat, displayUrl(base.source.url), limitsOf(ctx, base.source));
        } catch (error) {
          // a refused image is not left in the job's directory for anything to open
          rmSync(disk.file, { force: true });
          throw error;
        }
        continue;
      case 'empty':
        if (base.once === undefined) {
          await createEmptyDisk({ format: base.format, file: disk.file, sizeMiB: base.sizeMiB, mode: 0o600 });
          continue;
        }
        {
          const once = await ensureOnceDisk(ctx, { name: base.once, sizeMiB: base.sizeMiB, format: base.format, overlay: disk.file, cow: disk.cow! });
          baseFile = once.paths.data;
          virtualSize = once.meta.virtualSize;
        }
        break;
    }
    if (disk.access === 'overlay') await createCowOverlay({ cow: disk.cow!, base: baseFile, baseFormat: disk.baseFormat, virtualSize, file: disk.file });
  }
}
