import { TarFormatError, readTarEntries, tarEscapes } from '../context/tar-entries.js';

/**
 * Checks a downloaded RTE tarball before any guest sees it: a plain or gzip tar whose members
 * stay inside the package directory and lie under control/ or data/, with the control/install
 * and control/runtime scripts the catalogue's convention requires. Returns every problem.
 */
export async function checkRteTarball(file: string): Promise<string[]> {
  let entries;
  try {
    entries = readTarEntries(file);
  } catch (error) {
    if (error instanceof TarFormatError) return [`not a tar archive vmbatch can read: ${error.message}`];
    throw error;
  }
  const problems = tarEscapes(entries, 0);
  const names = new Set(entries.map((e) => e.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '')));
  const stray = [...names].filter((n) => n !== '' && n !== '.' && !/^(control|data)(\/|$)/.test(n));
  if (stray.length) problems.push(`members outside control/ and data/: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? `, and ${stray.length - 5} more` : ''}`);
  for (const script of ['control/install', 'control/runtime']) {
    const entry = entries.find((e) => e.name.replace(/^(\.\/)+/, '') === script);
    if (!entry) problems.push(`${script} is missing`);
    else if (entry.type !== 'file') problems.push(`${script} is not a regular file`);
  }
  return problems;
}
