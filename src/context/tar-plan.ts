import { isAbsolute, join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { VbAttrs } from '../domain/vb-tags.js';
import { hasTraversal } from '../images/image-source.js';
import { TarFormatError, isGzipFile, readTarEntries, tarEscapes } from './tar-entries.js';

/** A checked tar file of the template and where it goes. */
export interface TarPlan {
  /** the archive on the host */
  file: string;
  /** 'cdrom': unpacked onto the context volume by the host; 'guest': shipped and unpacked in the guest */
  where: 'cdrom' | 'guest';
  /** below the volume's root (cdrom), or in the guest: relative = below the user's home, absolute = as is */
  path: string;
  strip: number;
  gzip: boolean;
}

/**
 * Resolves and checks the template's <vbtarfile>s: each archive must exist and have no entry
 * that lands outside its target once `strip` components are removed. Checked on the host for
 * both options, so the guest unpacks only archives that were found safe.
 */
export function planTarFiles(tarFiles: VbAttrs<'vbtarfile'>[], contextFilesDir: string): TarPlan[] {
  return tarFiles.map((t) => {
    if (!isAbsolute(t.tarfile) && hasTraversal(t.tarfile)) throw new VmbatchError('TAR_MISSING', { tarfile: t.tarfile, path: `${contextFilesDir}/${t.tarfile} (a path with '..' is refused)` });
    const file = isAbsolute(t.tarfile) ? t.tarfile : join(contextFilesDir, t.tarfile);
    let entries;
    try {
      entries = readTarEntries(file);
    } catch (error) {
      if (error instanceof TarFormatError) throw new VmbatchError('TAR_UNSAFE', { path: file, problems: [error.message] });
      throw new VmbatchError('TAR_MISSING', { tarfile: t.tarfile, path: `${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` });
    }
    const where = t.option === 'cdrom' ? 'cdrom' : 'guest';
    const problems = tarEscapes(entries, t.strip);
    if (where === 'cdrom' && isAbsolute(t.path)) problems.unshift(`path='${t.path}' must stay on the context volume`);
    // a relative target lies below the volume's root or the user's home and must stay there
    if (!isAbsolute(t.path) && hasTraversal(t.path.replace(/^\.$/, ''))) problems.unshift(`path='${t.path}' must not contain '..'`);
    if (/[\t\n]/.test(t.path)) problems.unshift(`path='${t.path}' has a tab or newline`);
    if (problems.length) throw new VmbatchError('TAR_UNSAFE', { path: file, problems });
    return { file, where, path: t.path, strip: t.strip, gzip: isGzipFile(file) };
  });
}
