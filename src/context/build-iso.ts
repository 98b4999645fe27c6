import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runTool } from '../exec/run-tool.js';
import type { IsoLayout } from './iso-layout.js';

/**
 * Writes the layout into a private staging directory and builds the ISO with genisoimage
 * (Rock Ridge with real modes, so the host key stays root-only in the guest; Joliet for other
 * readers). The ISO appears only complete (temp name + rename); the staging dir is removed.
 */
export async function buildIso(layout: IsoLayout, isoFile: string, stagingDir: string): Promise<void> {
  await withStagedContext(layout, isoFile, stagingDir, (tmp) => runTool(['genisoimage', '-quiet', '-input-charset', 'utf-8', '-V', layout.volumeId, '-R', '-J', '-o', tmp, stagingDir]));
}

/** The same files as a tar archive (ROOTSSH sends it to the guest over the root login). */
export async function buildContextTar(layout: IsoLayout, tarFile: string, stagingDir: string): Promise<void> {
  await withStagedContext(layout, tarFile, stagingDir, (tmp) => runTool(['tar', '-c', '-f', tmp, '--numeric-owner', '--owner=0', '--group=0', '-C', stagingDir, '.']));
}

// Stages the layout, lets `make` write the output to a temp name, then renames it into place.
async function withStagedContext(layout: IsoLayout, output: string, stagingDir: string, make: (tmp: string) => Promise<unknown>): Promise<void> {
  rmSync(stagingDir, { recursive: true, force: true });
  mkdirSync(stagingDir, { mode: 0o700 });
  const tmp = `${output}.tmp.${process.pid}`;
  try {
    await stageContext(layout, stagingDir);
    await make(tmp);
    // the volume carries the guest's private host key: only root (and qemu, via libvirt) may read it
    chmodSync(tmp, 0o600);
    renameSync(tmp, output);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(stagingDir, { recursive: true, force: true });
  }
}

/** Writes the layout's files, copies and unpacked archives into `stagingDir` (which must exist). */
export async function stageContext(layout: IsoLayout, stagingDir: string): Promise<void> {
  for (const archive of layout.unpack) {
    // checked by planTarFiles: no entry leaves `dir`; owners are not the guest's business;
    // unpacked first, so vmbatch's own files (prolog.sh, keys) win over an archive's
    const dir = join(stagingDir, archive.dir);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    await runTool(['tar', '-x', '-f', archive.source, '-C', dir, `--strip-components=${archive.strip}`, '--no-same-owner']);
  }
  for (const file of layout.files) {
    const path = join(stagingDir, file.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    rmSync(path, { force: true });
    writeFileSync(path, file.content, { mode: file.mode });
  }
  for (const copy of layout.copies) {
    mkdirSync(dirname(join(stagingDir, copy.path)), { recursive: true, mode: 0o755 });
    copyFileSync(copy.source, join(stagingDir, copy.path));
    chmodSync(join(stagingDir, copy.path), 0o644);
  }
}
