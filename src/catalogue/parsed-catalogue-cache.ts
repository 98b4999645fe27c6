import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z, type ZodTypeAny } from 'zod';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { readTrustedFile, untrustedDirReason } from '../fsutil/trusted-file.js';
import { entryKey } from '../images/cache-entry.js';
import type { Logger } from '../log/logger.js';
import { baseSystemSchema, debianPackageSchema, imagePackageSchema, metaPackageSchema, tagSchema, tarPackageSchema, type Catalogue } from './catalogue-model.js';
import { isCatalogueNode, readCatalogue, sourceUrl } from './read-catalogue.js';

// Every prologue of a job that asks for runtime environments needs the parsed catalogue; parsing
// RDF/XML costs ~4x the bare XML parser. The parse is kept as JSON beside the other caches,
// keyed by the sha256 of the text and by the format of the parsed form, so a changed catalogue or
// a vmbatch whose model differs never reads a stale one. The model is plain JSON data (strings,
// whole numbers, arrays, objects: no Map, Set or Date), so JSON.stringify is its serialisation;
// a property that is undefined comes back absent, which no reader of the model tells apart.

/**
 * The version of what readCatalogue makes of a text: bump it when the reader changes its output
 * for the same text (a new warning, another wording). Changes of the model's schemas change the
 * key by themselves (modelFingerprint).
 */
export const parsedFormatVersion = 1;

/** The model's schemas, described: any change of a field, its type or its bounds changes this. */
function describe(schema: ZodTypeAny): string {
  if (schema instanceof z.ZodObject) {
    return `{${Object.entries(schema.shape as Record<string, ZodTypeAny>)
      .map(([k, v]) => `${k}:${describe(v)}`)
      .join(',')}}`;
  }
  if (schema instanceof z.ZodOptional) return `${describe(schema._def.innerType as ZodTypeAny)}?`;
  if (schema instanceof z.ZodArray) return `[${describe(schema._def.type as ZodTypeAny)}]`;
  if (schema instanceof z.ZodLiteral) return JSON.stringify(schema._def.value);
  if (schema instanceof z.ZodString || schema instanceof z.ZodNumber) return `${schema._def.typeName}${JSON.stringify(schema._def.checks)}`;
  return (schema._def as { typeName: string }).typeName;
}

const modelFingerprint = createHash('sha256')
  .update([metaPackageSchema, tarPackageSchema, imagePackageSchema, debianPackageSchema, baseSystemSchema, tagSchema].map(describe).join('\n'))
  .digest('hex')
  .slice(0, 12);

/** The format key of parsed forms this vmbatch writes and reads. */
export const parsedFormat = `v${parsedFormatVersion}-${modelFingerprint}`;

/** The files of a source's parsed form: CACHE/parsed-catalogues/KEY/SHA256.FORMAT.json. */
export interface ParsedEntryPaths {
  /** the directories from the cache's root to the entry's, outermost first (each must be trusted) */
  dirs: string[];
  dir: string;
  file: string;
  sha256: string;
}

/** Where the parse of `text` (of the catalogue `source`) is kept below `cacheDir`. */
export function parsedEntryPaths(cacheDir: string, source: string, text: string): ParsedEntryPaths {
  const parsed = join(cacheDir, 'parsed-catalogues');
  const dir = join(parsed, entryKey(source));
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { dirs: [cacheDir, parsed, dir], dir, file: join(dir, `${sha256}.${parsedFormat}.json`), sha256 };
}

/** A parse kept on disk: what it is the parse of, and the catalogue. */
interface ParsedRecord {
  format: string;
  source: string;
  /** the source as a URL: relative paths resolve against the working directory, so the same name may be another file */
  url: string;
  sha256: string;
  catalogue: Catalogue;
}

/** A catalogue and whether it came from its kept parse. */
export interface LoadedCatalogue {
  catalogue: Catalogue;
  cached: boolean;
}

/** How a parse is kept: the cache's root, the log, and (tests) the reader. */
export interface ParsedCacheOptions {
  cacheDir: string;
  log: Logger;
  /** readCatalogue by default */
  parse?: (text: string, source: string) => Catalogue;
  /** a parse already made (a fresh download was read to check it): stored, not made again */
  parsed?: Catalogue;
}

/**
 * The catalogue of `text`: its kept parse when there is a trusted, sound one, else parsed (and
 * kept for the next job). A kept parse that is untrusted or damaged is ignored with a warning;
 * a parse that cannot be kept is a warning too. Neither fails the job: only the reader's own
 * errors (CATALOGUE_INVALID...) are thrown.
 */
export function loadParsedCatalogue(text: string, source: string, opts: ParsedCacheOptions): LoadedCatalogue {
  const paths = parsedEntryPaths(opts.cacheDir, source, text);
  if (!opts.parsed) {
    const kept = readKept(paths, source, opts.log);
    if (kept) return { catalogue: kept, cached: true };
  }
  const catalogue = opts.parsed ?? (opts.parse ?? readCatalogue)(text, source);
  keep(paths, source, catalogue, opts.log);
  return { catalogue, cached: false };
}

// The kept parse when it can be used; undefined (with a warning saying why, unless there is none) otherwise.
function readKept(paths: ParsedEntryPaths, source: string, log: Logger): Catalogue | undefined {
  let reason: string;
  try {
    const read = readTrustedFile(paths.file, paths.dirs);
    if ('absent' in read) return undefined;
    if ('untrusted' in read) reason = read.untrusted;
    else {
      const record = soundRecord(read.text, paths, source);
      if (typeof record !== 'string') return record;
      reason = `${paths.file} is damaged (${record})`;
    }
  } catch (error) {
    reason = (error as Error).message;
  }
  log.warn(`the kept parse of the catalogue ${source} is ignored: ${reason}; the catalogue is parsed again`, { source, entry: paths.file });
  return undefined;
}

// The catalogue of a kept record when it is whole and of this text, format and source; else what is wrong.
function soundRecord(text: string, paths: ParsedEntryPaths, source: string): Catalogue | string {
  let record: Partial<ParsedRecord> | null;
  try {
    record = JSON.parse(text) as Partial<ParsedRecord> | null;
  } catch {
    return 'not JSON';
  }
  const wrong = 'not a parsed catalogue of this text';
  if (typeof record !== 'object' || record === null) return wrong;
  if (record.format !== parsedFormat || record.sha256 !== paths.sha256 || record.source !== source || record.url !== sourceUrl(source)) return wrong;
  const c = record.catalogue;
  if (typeof c !== 'object' || c === null || c.source !== source || typeof c.base !== 'string') return wrong;
  if (!Array.isArray(c.warnings) || !c.warnings.every((w) => typeof w === 'string')) return wrong;
  // the whole model is checked (~12 ms for 10,000 packages, compiled): a node of the wrong shape
  // would otherwise surface as a baffling resolver error in some later job, not as a reparse
  const sound = nodesOf(c.metaPackages, ['MetaPackage']) && nodesOf(c.instances, ['TarPackage', 'ImagePackage', 'DebianPackage']) && nodesOf(c.baseSystems, ['BaseSystem']) && nodesOf(c.tags, ['Tag']);
  return sound ? c : wrong;
}

function nodesOf(list: unknown, classes: string[]): boolean {
  if (!Array.isArray(list)) return false;
  for (const node of list) {
    const cls = (node as { type?: unknown } | null)?.type;
    if (typeof cls !== 'string' || !classes.includes(cls) || !isCatalogueNode(cls, node)) return false;
  }
  return true;
}

const entryName = /^[0-9a-f]{64}\.[\w-]+\.json$/;
const tempName = /^\.[0-9a-f]{64}\.[\w-]+\.json\.tmp\./;
/** a temp file older than this is a dead writer's (writing one takes milliseconds) */
const staleTempMs = 3600_000;

// Keeps the parse (atomically: concurrent prologues each rename a whole file of their own over
// the entry), then drops the parses of this source's other texts, so the directory holds one.
function keep(paths: ParsedEntryPaths, source: string, catalogue: Catalogue, log: Logger): void {
  try {
    // root does not write where a local user could swap what it writes: checked before creating
    // the missing directories (mkdir follows a planted link) and again once they all exist
    let untrusted = untrustedDirReason(paths.dirs);
    if (!untrusted) {
      ensureDir(paths.dir, 0o755);
      untrusted = untrustedDirReason(paths.dirs);
    }
    if (untrusted) {
      log.warn(`the parse of the catalogue ${source} is not kept: ${untrusted}`, { source, entry: paths.file });
      return;
    }
    const record: ParsedRecord = { format: parsedFormat, source, url: sourceUrl(source), sha256: paths.sha256, catalogue };
    writeFileAtomic(paths.file, JSON.stringify(record), { mode: 0o644 });
    pruneOthers(paths);
  } catch (error) {
    log.warn(`the parse of the catalogue ${source} is not kept: ${(error as Error).message}`, { source, entry: paths.file });
  }
}

/** Removes the other parses of the source (older texts, other formats) and dead writers' temp files; what is already gone is fine. */
export function pruneOthers(paths: ParsedEntryPaths): void {
  const own = paths.file.slice(paths.dir.length + 1);
  const now = Date.now();
  for (const name of readdirSync(paths.dir)) {
    const path = join(paths.dir, name);
    // a live writer's temp file is left alone: removing it would fail its rename
    const stale = entryName.test(name) ? name !== own : tempName.test(name) && isOlderThan(path, now - staleTempMs);
    if (stale) rmSync(path, { force: true });
  }
}

function isOlderThan(path: string, when: number): boolean {
  try {
    return lstatSync(path).mtimeMs < when;
  } catch {
    return false;
  }
}
