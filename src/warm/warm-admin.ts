import { readdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { readTrustedBytes } from '../fsutil/trusted-file.js';
import { acquireFileLock } from '../fsutil/file-lock.js';
import { openWarmEntry, parseWarmMeta, type WarmMeta } from './warm-entry.js';
import { warmEntryName, warmEntryPaths, warmRoot } from './warm-paths.js';

/** One saved state as `vmbatch warm list` shows it. */
export interface WarmListing {
  dir: string;
  meta: WarmMeta | undefined;
  /** 'current', or why a job would not start from it */
  status: string;
}

/** Every saved state below the state directory, with whether a job would start from it. */
export function listWarmStates(stateDir: string): WarmListing[] {
  const root = warmRoot(stateDir);
  let names: string[];
  try {
    names = readdirSync(root)
      .filter((n) => /^[0-9a-f]{16}$/.test(n))
      .sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    const dir = join(root, name);
    const read = readTrustedBytes(join(dir, 'meta.json'));
    const meta = 'bytes' in read ? parseWarmMeta(read.bytes) : undefined;
    if (!meta) return { dir, meta, status: 'unreadable record: vmbatch warm drop removes it' };
    // the state of this directory: a job with the record's key looks in the one its key names
    const opened =
      warmEntryName(meta.key) === name
        ? openWarmEntry(stateDir, warmEntryPaths(stateDir, meta.key, dir), meta.key)
        : { skipped: `${dir} holds the state of another guest (key ${meta.key.slice(0, 16)}…)` };
    return { dir, meta, status: 'entry' in opened ? 'current' : opened.skipped };
  });
}

/** A template argument as a file: a name in domainsDir (testguest → DIR/testguest.xml) or a path. */
export function templateFileOf(domainsDir: string, template: string): string {
  if (template.includes('/')) return isAbsolute(template) ? template : resolve(template);
  return join(domainsDir, template.endsWith('.xml') ? template : `${template}.xml`);
}

/**
 * Removes the saved states of a template (by its file) or with a key (16 hex digits or more),
 * each under its build lock. A running job's qemu keeps its frozen disk open, so it runs on.
 */
export async function dropWarmStates(stateDir: string, match: { templateFile?: string; key?: string }): Promise<string[]> {
  const dropped: string[] = [];
  for (const listing of listWarmStates(stateDir)) {
    const name = listing.dir.slice(listing.dir.lastIndexOf('/') + 1);
    const hit = match.key ? (listing.meta?.key ?? name).startsWith(match.key) : listing.meta?.template === match.templateFile;
    if (!hit) continue;
    const lock = await acquireFileLock(warmEntryPaths(stateDir, name).lock, { timeoutMs: 15 * 60_000, purpose: 'vmbatch warm drop' });
    try {
      // renamed first: a job opening the entry now finds none rather than half of one
      const doomed = `${warmRoot(stateDir)}/.drop-${name}-${process.pid}`;
      // what an interrupted drop by a process of the same pid left there would fail the rename
      rmSync(doomed, { recursive: true, force: true });
      renameSync(listing.dir, doomed);
      rmSync(doomed, { recursive: true, force: true });
      dropped.push(listing.dir);
    } finally {
      lock.release();
    }
  }
  return dropped;
}
