import { chmodSync, chownSync, createReadStream, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { entryKey, entryPaths, readEntryMeta, writeEntryMeta, type EntryMeta, type EntryPaths } from './cache-entry.js';
import { noteCacheUse, type CacheContext } from './cache-context.js';
import { addEntryUser } from './cache-users.js';
import { fetchImage, type FetchResult } from './fetch-image.js';
import { createDigest, formatHash, type HashSpec } from './hash-spec.js';
import { checkImage, checkImageHeader, type ImageLimits } from './check-image.js';
import type { ImageInfo } from './image-info.js';
import { displayUrl, sourceIdentity, type ImageSource } from './image-source.js';

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
  const paths = entryPaths(ctx.cacheDir, 'download', entryKey(sourceIdentity(source)));
  ensureDir(dirname(paths.dir), 0o755);
  // a submitter's entry: others may pass through to the image (guests' group) but not list it
  ensureDir(paths.dir, source.origin === 'submitter' ? 0o711 : 0o755);
  const timeoutMs = Math.max(0, ctx.deadline - Date.now());
  return withFileLock(paths.lock, { timeoutMs, purpose: `job ${ctx.jobRef} fetching ${displayUrl(source.url)}` }, async () => {
    let meta = readEntryMeta(paths);
    if (meta && !existsSync(paths.data)) meta = undefined;
    if (meta && source.hash) meta = await confirmDigest(ctx, paths, meta, source.hash);
    try {
      if (!meta) meta = await downloadEntry(ctx, paths, source, format);
      // a cheap re-check of what was checked at download: the header is read again, in-process
      else await checkImageHeader(paths.data, format, displayUrl(source.url), limitsOf(ctx, source));
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
  await pipeline(createReadStream(paths.data, { highWaterMark: 4 << 20 }), async function (chunks: AsyncIterable<Buffer>) {
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
  const submitters = source.origin === 'submitter';
  const result = await fetchFromMirrors(ctx, source, part, submitters ? 0o600 : 0o644);
  let info: ImageInfo;
  try {
    info = await checkImage(part, format, displayUrl(source.url), limitsOf(ctx, source));
    // a submitter's image: root's, readable by the guests' group only (never by other users)
    if (submitters) {
      // the plan carries the group (guestIdentity.group, resolved once per prologue)
      if (ctx.guestGid === undefined) throw new Error("a submitter's image reached the cache without the guests' group");
      chownSync(part, 0, ctx.guestGid);
      chmodSync(part, 0o640);
    }
  } catch (error) {
    rmSync(part, { force: true });
    throw error;
  }
  renameSync(part, paths.data);
  const meta: EntryMeta = {
    version: 1,
    kind: 'download',
    // the URL as it may be shown: no credentials, no query (the key still distinguishes queries)
    identity: displayUrl(source.url),
    bytes: result.bytes,
    digests: [result.digest],
    format: info.format,
    virtualSize: info.virtualSize,
    createdAt: new Date().toISOString(),
    sealed: false,
  };
  writeEntryMeta(paths, meta);
  ctx.log.info('download done', { url: displayUrl(source.url), bytes: result.bytes, ms: Math.round(result.ms), digest: formatHash(result.digest) });
  return meta;
}

// The source's URL, then each mirror in turn while the failure is the server's or the
// file's; one that says this node cannot take the file at all (disk full, budget spent, a
// tool missing, a bug) ends the search. When every URL failed the error lists them all.
async function fetchFromMirrors(ctx: CacheContext, source: ImageSource, part: string, mode: number): Promise<FetchResult> {
  const urls = [source.url, ...(source.mirrors ?? [])];
  const failures: VmbatchError[] = [];
  for (const url of urls) {
    ctx.log.info('download start', { url: displayUrl(url), job: ctx.jobRef, ...(url === source.url ? {} : { for: displayUrl(source.url) }) });
    try {
      return await fetchImage({
        source: { ...source, url },
        file: part,
        mode,
        stallTimeoutMs: ctx.stallTimeoutMs,
        maxRedirects: ctx.maxRedirects,
        caFile: ctx.caFile,
        deadline: ctx.deadline,
        onProgress: ctx.onProgress && ((got, total) => ctx.onProgress!(displayUrl(url), got, total)),
      });
    } catch (error) {
      if (!isVmbatchError(error) || nodeProblems.has(error.code)) throw error;
      failures.push(error);
      if (url !== urls.at(-1)) ctx.log.warn('download failed; trying the next URL', { url: displayUrl(url), error: error.message });
    }
  }
  if (failures.length === 1) throw failures[0]!;
  const params = { url: displayUrl(source.url), failures: failures.map((f) => f.message) };
  // one URL that may work later is enough for the job to be worth requeueing
  throw failures.some((f) => f.kind === 'transient') ? new VmbatchError('DOWNLOAD_MIRRORS_FAILED', params) : new VmbatchError('DOWNLOAD_MIRRORS_REFUSED', params);
}

// Failures another URL cannot cure: they are this node's, not the server's or the file's.
const nodeProblems = new Set<string>(['DISK_FULL', 'DOWNLOAD_DEADLINE', 'TOOL_MISSING']);

// The holder of the lock is the only writer: any temp file left is a dead downloader's.
function removeStaleParts(paths: EntryPaths): void {
  for (const name of readdirSync(paths.dir)) if (name.startsWith('image.part-')) rmSync(join(paths.dir, name), { force: true });
}

/** The limits an image from `source` is held to: a submitter's policy, else the site's for templates. */
export function limitsOf(ctx: Pick<CacheContext, 'maxVirtualBytes'>, source: ImageSource): ImageLimits {
  return { maxVirtualBytes: source.maxVirtualBytes ?? ctx.maxVirtualBytes };
}
