import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { readTrustedBytes, untrustedDirReason, untrustedReason } from '../fsutil/trusted-file.js';
import { staleReason } from './fingerprint.js';
import { parseSaveImageHeader, type SaveImageHeader } from './save-image.js';
import { warmRoot, type WarmEntryPaths } from './warm-paths.js';

/** What a build records beside a saved state (meta.json). */
export const warmMetaSchema = z.object({
  version: z.literal(1),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  template: z.string(),
  createdAt: z.string(),
  /** from the build's domain start to the guest's warm-ready line */
  bootSeconds: z.number(),
  /** the save image's size in bytes */
  stateBytes: z.number().int(),
  vcpus: z.number().int(),
  memoryMiB: z.number().int(),
  /** the frozen disks (each the base of every job's overlay) */
  disks: z.array(z.object({ target: z.string(), file: z.string(), virtualSize: z.number().int() })),
  fingerprint: z.record(z.string()),
});
/** A saved state's record. */
export type WarmMeta = z.infer<typeof warmMetaSchema>;

/** A saved state's record from the bytes of its meta.json; undefined when they are not one. */
export function parseWarmMeta(bytes: Buffer): WarmMeta | undefined {
  try {
    return warmMetaSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** A saved state a job may start from. */
export interface WarmEntry {
  meta: WarmMeta;
  paths: WarmEntryPaths;
  header: SaveImageHeader;
}

// the header and domain XML of a save image are well under this (libvirt pads them to 64 KiB)
const headerReadBytes = 1 << 20;

/**
 * Opens the saved state at `paths` for a job whose guest has `key`, or says why not: none there,
 * not root's alone (a local user who could write it could run code in every job's guest), a
 * record that does not parse, or stale (a base, the kernel, QEMU or libvirt changed since).
 */
export function openWarmEntry(stateDir: string, paths: WarmEntryPaths, key: string, size?: { vcpus: number; memoryMiB: number }): { entry: WarmEntry } | { skipped: string } {
  const dirReason = untrustedDirReason([stateDir, warmRoot(stateDir), paths.dir]);
  if (dirReason) return { skipped: `the saved state is not root's alone: ${dirReason}` };
  const read = readTrustedBytes(paths.meta);
  if ('absent' in read) {
    const sized = size ? ` (${size.vcpus} vCPU(s), ${size.memoryMiB} MiB)` : '';
    const options = size ? ` --vcpus ${size.vcpus} --memory ${size.memoryMiB}` : '';
    return { skipped: `no saved state for this guest${sized} yet (vmbatch warm build TEMPLATE${options} makes it)` };
  }
  if ('untrusted' in read) return { skipped: `the saved state is not root's alone: ${read.untrusted}` };
  const meta = parseWarmMeta(read.bytes);
  if (!meta) return { skipped: `${paths.meta} is not a saved state's record` };
  if (meta.key !== key) return { skipped: `${paths.dir} holds the state of another guest (key ${meta.key.slice(0, 16)}…)` };
  const stale = staleReason(meta.fingerprint);
  if (stale) return { skipped: `the saved state is stale: ${stale}` };
  for (const disk of meta.disks) {
    const stats = lstatSync(disk.file, { throwIfNoEntry: false });
    if (!stats) return { skipped: `the saved state's disk ${disk.file} is missing` };
    const reason = untrustedReason(disk.file, stats, 'file');
    if (reason) return { skipped: `the saved state is not root's alone: ${reason}` };
  }
  let fd: number;
  try {
    fd = openSync(paths.memoryState, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return { skipped: `cannot open ${paths.memoryState}: ${(error as NodeJS.ErrnoException).code}` };
  }
  try {
    const reason = untrustedReason(paths.memoryState, fstatSync(fd), 'file');
    if (reason) return { skipped: `the saved state is not root's alone: ${reason}` };
    const buffer = Buffer.alloc(headerReadBytes);
    const got = readSync(fd, buffer, 0, headerReadBytes, 0);
    return { entry: { meta, paths, header: parseSaveImageHeader(buffer.subarray(0, got), paths.memoryState) } };
  } catch (error) {
    return { skipped: error instanceof Error ? error.message : String(error) };
  } finally {
    closeSync(fd);
  }
}
