import { VmbatchError } from '../errors/vmbatch-error.js';
import type { HashSpec } from './hash-spec.js';

/** Where an image comes from and what it must be: the URL, the expected hash, limits. */
export interface ImageSource {
  url: string;
  hash: HashSpec | undefined;
  /** submitter images are policy-bound: every redirect hop is checked, size is capped */
  origin: 'template' | 'submitter';
  maxBytes: number | undefined;
  /** URL prefixes every redirect hop must stay under (submitter images only) */
  allowedPrefixes: string[] | undefined;
  /** further URLs of the same file, tried in order when a download from `url` fails; the cache entry stays `url`'s */
  mirrors?: string[];
  /** largest virtual size accepted, in bytes (a submitter's policy; templates use images.maxVirtualSizeMiB) */
  maxVirtualBytes?: number;
  /** a submitter's image: the uid it is cached for, so no other user is ever given that copy */
  ownerUid?: number;
}

/**
 * The cache key of a source: its URL (query included, so different queries are different
 * entries), and for a submitter's image the submitter's uid as well.
 */
export function sourceIdentity(source: Pick<ImageSource, 'url' | 'origin' | 'ownerUid'>): string {
  if (source.origin !== 'submitter') return source.url;
  // a submitter image without its owner would be shared with every user: never
  if (source.ownerUid === undefined) throw new Error(`submitter image ${displayUrl(source.url)} has no owner uid`);
  return `${source.url}\nuid=${source.ownerUid}`;
}

/**
 * A URL as it may be shown (records, listings, logs, errors): without user name, password,
 * fragment, and with the query replaced by `?…`, since query strings often carry access tokens.
 */
export function displayUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/[?#].*$/s, '');
  }
  const query = parsed.search ? '?…' : '';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return parsed.href + query;
}

const schemeOf = (text: string) => /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();

/**
 * Resolves the source= of a <vbdisksource> written by the site admin: an http(s) URL, or a
 * path relative to images.siteBase. file:// URLs, host paths and '..' are refused, so a
 * template can only name images where the site keeps them.
 */
export function resolveTemplateSource(source: string, siteBase: string | undefined): string {
  const scheme = schemeOf(source);
  if (scheme === 'http' || scheme === 'https') return new URL(source).href;
  if (scheme === 'file') throw refused(source, 'file:// URLs are not image sources; put the image below images.siteBase and give its relative path');
  if (scheme) throw refused(source, `the scheme '${scheme}:' is not supported (http and https are)`);
  if (source.startsWith('/')) throw refused(source, 'a host path is not an image source; give a path relative to images.siteBase');
  if (hasTraversal(source)) throw refused(source, "the path leaves images.siteBase ('..' or '\\' in it)");
  if (!siteBase) throw refused(source, 'a relative source needs images.siteBase in the configuration, which is not set');
  const url = new URL(source, siteBase).href;
  if (!url.startsWith(siteBase)) throw refused(source, 'the path leaves images.siteBase');
  return url;
}

/** Whether a path has a '..' or '.' segment (raw or percent-encoded) or a backslash. */
export function hasTraversal(path: string): boolean {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  return [path, decoded].some((p) => p.includes('\\') || p.split('/').some((seg) => seg === '..' || seg === '.'));
}

/** The error for a source that is refused, with the reason. */
export function refused(source: string, reason: string): VmbatchError {
  return new VmbatchError('IMAGE_SOURCE_REFUSED', { source, reason });
}
