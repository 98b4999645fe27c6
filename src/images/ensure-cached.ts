import { createReadStream, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { entryKey, entryPaths, readEntryMeta, writeEntryMeta, type EntryMeta, type EntryPaths } from './cache-entry.js';
import { noteCacheUse, type CacheContext } from './cache-context.js';
import { addEntryUser } from './cache-users.js';
import { fetchImage, type FetchResult } from './fetch-image.js';
import { createDigest, formatHash, type HashSpec } from './hash-spec.js';
import { imageInfo, type ImageInfo } from './image-info.js';
import type { ImageSource } from './image-source.js';

/** A complete, verified cache entry a job now uses. */
export interface CachedImage {
  paths: EntryPaths;
  meta: EntryMeta;
}

/**
 * Makes sure the image is in the shared cache and records the job as its user. Under the
 * entry's lock: the first job downloads (into a per-process temp file, renamed only once the
 * digest and format are checked), jobs that come meanwhile wait on the lock and then find
 * the entry complete. A crashed downloader's lock is gone with its process and its temp file
 * is removed by the next holder.
 */
export async function ensureCachedImage(ctx: CacheContext, source: ImageSource, format: string): Promise<CachedImage> {
  const paths = entryPaths(ctx.cacheDir, 'download', entryKey(source.url));
  ensureDir(paths.dir, 0o755);
  const timeoutMs = Math.max(0, ctx.deadline - Date.now());
  return withFileLock(paths.lock, { timeoutMs, purpose: `job ${ctx.jobRef} fetching ${source.url}` }, async () => {
    let meta = readEntryMeta(paths);
    if (meta && !existsSync(paths.data)) meta = undefined;
    if (meta && source.hash) meta = await confirmDigest(ctx, paths, meta, source.hash);
    try {
      if (!meta) meta = await downloadEntry(ctx, paths, source, format);
      else await checkImage(paths.data, format, source.url);
    } catch (error) {
      // nothing half-made stays: an entry without its record is removed with its lock
      if (!readEntryMeta(paths)) rmSync(paths.dir, { recursive: true, force: true });
      throw error;
    }
    noteCacheUse(ctx.usesFile, { entry: paths });
    addEntryUser(paths, ctx.jobRef);
    return { paths, meta };
  });
}

// The cached data must have the digest the template expects now. A digest of the same
// algorithm that differs means the image was replaced upstream: fetch it again. Another
// algorithm is computed once from the cached file and kept.
async function confirmDigest(ctx: CacheContext, paths: EntryPaths, meta: EntryMeta, hash: HashSpec): Promise<EntryMeta | undefined> {
  const known = meta.digests.find((d) => d.algorithm === hash.algorithm);
  if (known) {
    if (known.value === hash.value) return meta;
    ctx.log.info('cached image has another digest; fetching it again', { url: meta.identity, cached: formatHash(known), expected: formatHash(hash) });
    return undefined;
  }
  const digest = createDigest(hash.algorithm);
  await pipeline(createReadStream(paths.data, { highWaterMark: 4 << 20 }), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) digest.update(chunk);
  });
  const value = digest.digest('hex');
  if (value !== hash.value) return undefined;
  const updated = { ...meta, digests: [...meta.digests, { algorithm: hash.algorithm, value }] };
  writeEntryMeta(paths, updated);
  return updated;
}

async function downloadEntry(ctx: CacheContext, paths: EntryPaths, source: ImageSource, format: string): Promise<EntryMeta> {
  removeStaleParts(paths);
  const part = `${paths.data}.part-${hostname()}-${process.pid}`;
  const result = await fetchFromMirrors(ctx, source, part);
  let info: ImageInfo;
  try {
    info = await checkImage(part, format, source.url);
  } catch (error) {
    rmSync(part, { force: true });
    throw error;
  }
  renameSync(part, paths.data);
  const meta: EntryMeta = {
    version: 1,
    kind: 'download',
    identity: source.url,
    bytes: result.bytes,
    digests: [result.digest],
    format: info.format,
    virtualSize: info.virtualSize,
    createdAt: new Date().toISOString(),
    sealed: false,
  };
  writeEntryMeta(paths, meta);
  ctx.log.info('download done', { url: source.url, bytes: result.bytes, ms: Math.round(result.ms), digest: formatHash(result.digest) });
  return meta;
}

// The source's URL, then each mirror in turn while the failure is the server's or the
// file's; one that says this node cannot take the file at all (disk full, budget spent, a
// tool missing, a bug) ends the search. When every URL failed the error lists them all.
async function fetchFromMirrors(ctx: CacheContext, source: ImageSource, part: string): Promise<FetchResult> {
  const urls = [source.url, ...(source.mirrors ?? [])];
  const failures: VmbatchError[] = [];
  for (const url of urls) {
    ctx.log.info('download start', { url, job: ctx.jobRef, ...(url === source.url ? {} : { for: source.url }) });
    try {
      return await fetchImage({
        source: { ...source, url },
        file: part,
        stallTimeoutMs: ctx.stallTimeoutMs,
        maxRedirects: ctx.maxRedirects,
        caFile: ctx.caFile,
        deadline: ctx.deadline,
        onProgress: ctx.onProgress && ((got, total) => ctx.onProgress!(url, got, total)),
      });
    } catch (error) {
      if (!isVmbatchError(error) || nodeProblems.has(error.code)) throw error;
      failures.push(error);
      if (url !== urls.at(-1)) ctx.log.warn('download failed; trying the next URL', { url, error: error.message });
    }
  }
  if (failures.length === 1) throw failures[0];
  const params = { url: source.url, failures: failures.map((f) => f.message) };
  // one URL that may work later is enough for the job to be worth requeueing
  throw failures.some((f) => f.kind === 'transient') ? new VmbatchError('DOWNLOAD_MIRRORS_FAILED', params) : new VmbatchError('DOWNLOAD_MIRRORS_REFUSED', params);
}

// Failures another URL cannot cure: they are this node's, not the server's or the file's.
const nodeProblems = new Set<string>(['DISK_FULL', 'DOWNLOAD_DEADLINE', 'TOOL_MISSING']);

// The holder of the lock is the only writer: any temp file left is a dead downloader's.
function removeStaleParts(paths: EntryPaths): void {
  for (const name of readdirSync(paths.dir)) if (name.startsWith('image.part-')) rmSync(join(paths.dir, name), { force: true });
}

/**
 * Opens the image as the format the template declares (never probing untrusted bytes into
 * another format) and refuses one that has a backing file: it could name any file of the host.
 */
export async function checkImage(file: string, format: string, url: string): Promise<ImageInfo> {
  let info: ImageInfo;
  try {
    info = await imageInfo(file, format);
  } catch (error) {
    if (!isVmbatchError(error, 'TOOL_FAILED')) throw error;
    const actual = await imageInfo(file).then((i) => i.format, () => 'unreadable');
    throw new VmbatchError('IMAGE_FORMAT_MISMATCH', { url, declared: format, actual });
  }
  if (info.backingFile) throw new VmbatchError('IMAGE_HAS_BACKING_FILE', { url, backing: info.backingFile });
  return info;
}
