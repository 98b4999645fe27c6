import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { withFileLock } from '../fsutil/file-lock.js';
import { entryKey } from '../images/cache-entry.js';
import { fetchImage } from '../images/fetch-image.js';
import type { Logger } from '../log/logger.js';
import type { Catalogue } from './catalogue-model.js';
import { readCatalogue } from './read-catalogue.js';

/** How a catalogue source is fetched and how long a cached copy of a remote one counts as fresh. */
export interface CatalogueFetchOptions {
  /** the shared cache directory (cacheDirOf(config)); remote catalogues live in CACHE/catalogues */
  cacheDir: string;
  /** a cached copy older than this is fetched again */
  refreshSeconds: number;
  stallTimeoutMs: number;
  maxRedirects: number;
  /** images.caFile: extra CAs trusted for https */
  caFile?: string;
  /** epoch ms: lock waits and downloads end here (the prologue's budget) */
  deadline: number;
  log: Logger;
  /** the clock, epoch ms (tests); Date.now by default */
  now?: () => number;
}

/** A catalogue's text and where it came from: the file itself, a download, or the cache (fresh, confirmed by the server, or stale). */
export interface CatalogueText {
  text: string;
  /** the path or URL as configured */
  source: string;
  from: 'file' | 'download' | 'cache' | 'revalidated' | 'stale-cache';
  /** when the text was downloaded or last confirmed current (ISO 8601); absent for a local file */
  fetchedAt?: string;
  /** a download was read to check it before it replaced the cached copy: the result, so it is not read twice */
  catalogue?: Catalogue;
}

/** The files of a remote catalogue's cache entry. */
export interface CatalogueEntryPaths {
  dir: string;
  data: string;
  meta: string;
  lock: string;
}

/** The cache entry of the remote catalogue `url` below `cacheDir`: CACHE/catalogues/KEY. */
export function catalogueEntryPaths(cacheDir: string, url: string): CatalogueEntryPaths {
  const dir = join(cacheDir, 'catalogues', entryKey(url));
  return { dir, data: join(dir, 'catalogue.rdf'), meta: join(dir, 'meta.json'), lock: join(dir, 'lock') };
}

const metaSchema = z.object({
  version: z.literal(1),
  url: z.string(),
  /** the URL the text finally came from (after redirects) */
  finalUrl: z.string(),
  bytes: z.number().int().nonnegative(),
  /** when it was downloaded, or last confirmed current by a 304 */
  fetchedAt: z.string(),
  /** the server's validators, sent back on the next refresh (If-None-Match, If-Modified-Since) */
  etag: z.string().optional(),
  lastModified: z.string().optional(),
});
type CatalogueMeta = z.infer<typeof metaSchema>;

/**
 * The text of one catalogue source. A local path is read as it is. An http(s) URL is kept in
 * the shared cache and fetched again once older than refreshSeconds, under the entry's lock so
 * that concurrent prologues fetch it once. A new copy replaces the cached one only when it was
 * downloaded completely and reads as a catalogue (a broken one raises the reader's error and
 * leaves the old copy). A refresh is a conditional GET: when the server answers 304 Not
 * Modified, the cached copy counts as fresh again without a download or a new check. When the
 * server cannot be reached, the cached copy is used with a
 * warning; without one, CATALOGUE_UNAVAILABLE says why.
 */
export async function fetchCatalogueText(source: string, opts: CatalogueFetchOptions): Promise<CatalogueText> {
  if (!/^https?:\/\//.test(source)) return readLocal(source);
  const now = opts.now ?? Date.now;
  const paths = catalogueEntryPaths(opts.cacheDir, source);
  // the common case takes no lock: data and record are each replaced by an atomic rename
  const fresh = readCached(paths);
  if (fresh && isFresh(fresh.meta, opts.refreshSeconds, now())) return { text: fresh.text, source, from: 'cache', fetchedAt: fresh.meta.fetchedAt };
  const asked = now();
  try {
    ensureDir(paths.dir, 0o755);
    const timeoutMs = Math.max(0, opts.deadline - Date.now());
    return await withFileLock(paths.lock, { timeoutMs, purpose: `fetching the catalogue ${source}` }, async () => {
      // whoever held the lock before may have just fetched it: that copy is as fresh as ours would be
      const cached = readCached(paths);
      if (cached && (isFresh(cached.meta, opts.refreshSeconds, now()) || Date.parse(cached.meta.fetchedAt) >= asked)) {
        return { text: cached.text, source, from: 'cache' as const, fetchedAt: cached.meta.fetchedAt };
      }
      return await download(source, paths, cached, opts, now);
    });
  } catch (error) {
    if (error instanceof ReaderError) throw error.original;
    // a failed download, a lock wait that ran out or a cache the system refuses is a failed
    // refresh; anything else is a bug and no reason to hide behind an old copy
    if (!isVmbatchError(error) && typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
    return useCachedCopy(source, paths, error as Error, opts.log, now());
  }
}

// A local catalogue: unreadable is CATALOGUE_UNAVAILABLE with the system's reason.
function readLocal(source: string): CatalogueText {
  try {
    return { text: readFileSync(source, 'utf8'), source, from: 'file' };
  } catch (error) {
    throw new VmbatchError('CATALOGUE_UNAVAILABLE', { source, reason: errnoReason(error) }, { cause: error });
  }
}

function errnoReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  return code && reasons[code] ? `${reasons[code]} (${code})` : (error as Error).message;
}

function isFresh(meta: CatalogueMeta, refreshSeconds: number, now: number): boolean {
  return now - Date.parse(meta.fetchedAt) < refreshSeconds * 1000;
}

/** A cached catalogue: its text and its record. */
export interface CachedCatalogue {
  text: string;
  meta: CatalogueMeta;
}

/** The cached copy with its record; undefined when there is none (or it is damaged, which counts as none). */
export function readCached(paths: CatalogueEntryPaths): CachedCatalogue | undefined {
  try {
    const meta = metaSchema.parse(JSON.parse(readFileSync(paths.meta, 'utf8')));
    return { text: readFileSync(paths.data, 'utf8'), meta };
  } catch {
    return undefined;
  }
}

/** Carries the reader's verdict on a new copy past the fallback to the cached one. */
class ReaderError extends Error {
  constructor(readonly original: unknown) {
    super('the catalogue does not read');
  }
}

// Called with the entry's lock held: the holder is the only writer of the entry.
async function download(source: string, paths: CatalogueEntryPaths, cached: CachedCatalogue | undefined, opts: CatalogueFetchOptions, now: () => number): Promise<CatalogueText> {
  // a temp file left here is a dead fetcher's
  for (const name of readdirSync(paths.dir)) if (name.startsWith('catalogue.rdf.part-')) rmSync(join(paths.dir, name), { force: true });
  const part = `${paths.data}.part-${hostname()}-${process.pid}`;
  const result = await fetchImage({
    source: { url: source, hash: undefined, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined },
    file: part,
    stallTimeoutMs: opts.stallTimeoutMs,
    maxRedirects: opts.maxRedirects,
    caFile: opts.caFile,
    deadline: opts.deadline,
    validators: { etag: cached?.meta.etag, lastModified: cached?.meta.lastModified },
  });
  const fetchedAt = new Date(now()).toISOString();
  if ('notModified' in result) {
    // a 304 is only the answer to our validators, so there is a cached copy
    const { text, meta } = cached!;
    writeMeta(paths, { ...meta, fetchedAt });
    opts.log.info('catalogue not modified', { source, ms: Math.round(result.ms) });
    return { text, source, from: 'revalidated', fetchedAt };
  }
  let text: string;
  let catalogue: Catalogue;
  try {
    text = readFileSync(part, 'utf8');
    try {
      catalogue = readCatalogue(text, source);
    } catch (error) {
      throw new ReaderError(error);
    }
    renameSync(part, paths.data);
  } finally {
    rmSync(part, { force: true });
  }
  writeMeta(paths, { version: 1, url: source, finalUrl: result.finalUrl, bytes: result.bytes, fetchedAt, ...result.validators });
  opts.log.info('catalogue fetched', { source, bytes: result.bytes, ms: Math.round(result.ms) });
  return { text, source, from: 'download', fetchedAt, catalogue };
}

// The record goes last and atomically: a reader sees the old record or the new one, never half.
function writeMeta(paths: CatalogueEntryPaths, meta: CatalogueMeta): void {
  writeFileAtomic(paths.meta, JSON.stringify(meta, null, 2) + '\n', { mode: 0o644 });
}

// A refresh failed: the cached copy, if any, is better than no catalogue.
function useCachedCopy(source: string, paths: CatalogueEntryPaths, error: Error, log: Logger, now: number): CatalogueText {
  const reason = error.message;
  const cached = readCached(paths);
  if (!cached) throw new VmbatchError('CATALOGUE_UNAVAILABLE', { source, reason }, { cause: error });
  const ageSeconds = Math.max(0, Math.round((now - Date.parse(cached.meta.fetchedAt)) / 1000));
  log.warn(`the software catalogue ${source} cannot be refreshed; using the copy cached ${formatAge(ageSeconds)} ago`, {
    source,
    fetchedAt: cached.meta.fetchedAt,
    ageSeconds,
    reason,
  });
  return { text: cached.text, source, from: 'stale-cache', fetchedAt: cached.meta.fetchedAt };
}

// An age for people: seconds, minutes, hours or days, whichever reads best.
function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}
