import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOf } from '../../src/warm/fingerprint.js';
import { buildSaveImageHeader } from '../../src/warm/save-image.js';
import type { WarmMeta } from '../../src/warm/warm-entry.js';
import { warmEntryPaths, warmRoot, type WarmEntryPaths } from '../../src/warm/warm-paths.js';

/** A scratch node with a state directory (root's, 0755) and the files a saved state depends on (a base disk, a kernel). */
export interface WarmScratch {
  root: string;
  stateDir: string;
  base: string;
  kernel: string;
  cleanup(): void;
}

/** A saved state as `vmbatch warm build` leaves it, without libvirt: its paths and record. */
export interface FakeWarmEntry {
  key: string;
  paths: WarmEntryPaths;
  meta: WarmMeta;
  /** the frozen disk the record names */
  frozen: string;
  /** the first bytes of memory.state: a header, as libvirt writes one */
  header: Buffer;
}

/** The domain XML and cookie in every fake entry's save image header. */
export const fakeSaved = { xml: "<domain type='qemu'>\n  <name>vbwarm-0123456789ab</name>\n</domain>\n", cookie: '<qemuDomainSaveCookie/>\n' };

/** Makes the scratch node below /tmp; its warm/ directory is made (0755) too. */
export function warmScratch(): WarmScratch {
  const root = mkdtempSync(join(tmpdir(), 'vmbatch-warm-'));
  chmodSync(root, 0o755);
  const stateDir = join(root, 'state');
  mkdirSync(warmRoot(stateDir), { recursive: true });
  chmodSync(stateDir, 0o755);
  chmodSync(warmRoot(stateDir), 0o755);
  mkdirSync(join(root, 'guest'));
  const base = join(root, 'guest', 'disk.qcow2');
  const kernel = join(root, 'guest', 'vmlinux');
  writeFileSync(base, 'base disk');
  writeFileSync(kernel, 'kernel');
  return { root, stateDir, base, kernel, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A 64-hex-digit key made of one hex `digit` (its first 16 name the entry's directory). */
export function fakeKey(digit: string): string {
  return digit.repeat(64);
}

/**
 * Writes an entry for `key` the way a build leaves it: the directory 0750, meta.json 0644 (its
 * fingerprint of the scratch's base and kernel, as they are now), memory.state 0600 (a header
 * and some stream bytes) and a frozen disk 0640, all root's. `meta` overrides the record.
 */
export function writeFakeEntry(scratch: WarmScratch, key: string, meta: Partial<WarmMeta> = {}): FakeWarmEntry {
  const paths = warmEntryPaths(scratch.stateDir, key);
  mkdirSync(paths.dir);
  chmodSync(paths.dir, 0o750);
  const frozen = join(paths.dir, 'disk-vda.qcow2');
  writeFileSync(frozen, 'frozen overlay');
  chmodSync(frozen, 0o640);
  const header = buildSaveImageHeader({ ...fakeSaved, wasRunning: true });
  writeFileSync(paths.memoryState, Buffer.concat([header, Buffer.from('QEVM the saved migration stream')]));
  chmodSync(paths.memoryState, 0o600);
  const record: WarmMeta = {
    version: 1,
    key,
    template: '/etc/vmbatch/domains/warm.xml',
    createdAt: '2025-01-02T03:04:05.000Z',
    bootSeconds: 2.5,
    stateBytes: header.length + 31,
    vcpus: 1,
    memoryMiB: 256,
    disks: [{ target: 'vda', file: frozen, virtualSize: 1073741824 }],
    fingerprint: fingerprintOf([scratch.base, scratch.kernel, join(scratch.root, 'guest', 'virtqemud')]),
    ...meta,
  };
  writeFileSync(paths.meta, `${JSON.stringify(record, null, 2)}\n`);
  chmodSync(paths.meta, 0o644);
  return { key, paths, meta: record, frozen, header };
}
