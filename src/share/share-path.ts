/** Directories of a guest's own system that no host directory may cover (the guest would not work). */
export const guestSystemPaths = ['/proc', '/sys', '/dev', '/run', '/bin', '/sbin', '/lib', '/lib64', '/usr', '/etc', '/boot', '/var/lib/vmbatch'];

/**
 * Why a host path cannot be given to a guest at the same path, or undefined when it can. The
 * path comes from the submitter (PBS_O_WORKDIR) or NSS: it must be absolute and plain (no '.',
 * '..' or empty components, no control characters), and must not be / or a guest system
 * directory (or inside one).
 */
export function guestPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'it is not an absolute path';
  if (path.length > 1024) return 'it is longer than 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'it contains control characters (a tab, a line break, ...)';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return 'it is / (the whole file system)';
  if (
    trimmed
      .split('/')
      .slice(1)
      .some((c) => c === '' || c === '.' || c === '..')
  )
    return "it is not a plain path (an empty, '.' or '..' component)";
  const system = guestSystemPaths.find((s) => isSameOrInside(trimmed, s));
  if (system) return `it is ${trimmed === system ? '' : 'inside '}${system}, a directory the guest's own system needs`;
  return undefined;
}

/** The path without trailing slashes (the form shares are compared and mounted in). */
export function plainPath(path: string): string {
  return path.replace(/\/+$/, '') || '/';
}

/** Whether `path` is `dir` or below it (both plain). */
export function isSameOrInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
