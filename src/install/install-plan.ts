import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';

/** One file an installation writes, as it must end up: its content and mode, root's. */
export interface WantedFile {
  path: string;
  content: string;
  mode: number;
  /** whether an existing file at `path` is ours to replace (an earlier vmbatch's); anything else is foreign */
  ours: (existing: string) => boolean;
  /** what the file is for, when its path does not say (printed with the step) */
  note?: string;
  /** why an existing file is not ours, when its first line does not show it */
  foreignWhy?: (existing: string) => string;
}

/** What an installation does to one file: a plain value a dry run prints and applyInstallPlan performs. */
export type InstallStep = { note?: string } & (
  | { kind: 'keep'; path: string }
  | { kind: 'write'; path: string; content: string; mode: number; why: 'new' | 'content' | 'owner-mode'; was?: string }
  | { kind: 'replace-foreign'; path: string; content: string; mode: number; savedAs: string }
  | { kind: 'refuse'; path: string; why: string }
);

/** How a file looks on disk now: absent, a regular file (content, owner, mode), or something else. */
type Found = { kind: 'absent' } | { kind: 'file'; content: string; uid: number; gid: number; mode: number } | { kind: 'other'; what: string };

function look(path: string): Found {
  let st;
  try {
    st = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw error;
  }
  if (st.isSymbolicLink()) return { kind: 'other', what: 'a symbolic link' };
  if (!st.isFile()) return { kind: 'other', what: st.isDirectory() ? 'a directory' : 'not a regular file' };
  return { kind: 'file', content: readFileSync(path, 'utf8'), uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

/** The mode as installers print it: 0500. */
export const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/**
 * The step that makes `want` true: keep a file already right, write a missing or outdated one
 * of ours, and refuse a foreign file (someone else's hook, a symlink) unless `force`, which
 * replaces it and keeps the old one beside it.
 */
export function planFile(want: WantedFile, force: boolean): InstallStep {
  const step = stepFor(want, force);
  return want.note === undefined ? step : { ...step, note: want.note };
}

function stepFor(want: WantedFile, force: boolean): InstallStep {
  const found = look(want.path);
  if (found.kind === 'absent') return { kind: 'write', path: want.path, content: want.content, mode: want.mode, why: 'new' };
  const savedAs = `${want.path}.vmbatch-saved`;
  if (found.kind === 'other' || !want.ours(found.content)) {
    const what = found.kind === 'other' ? found.what : (want.foreignWhy?.(found.content) ?? `not vmbatch's: it begins ${JSON.stringify(found.content.split('\n')[0]!.slice(0, 80))}`);
    return force ? { kind: 'replace-foreign', path: want.path, content: want.content, mode: want.mode, savedAs } : { kind: 'refuse', path: want.path, why: what };
  }
  if (found.content !== want.content) return { kind: 'write', path: want.path, content: want.content, mode: want.mode, why: 'content' };
  if (found.uid !== 0 || found.gid !== 0 || found.mode !== want.mode) {
    return { kind: 'write', path: want.path, content: want.content, mode: want.mode, why: 'owner-mode', was: `${found.uid}:${found.gid} ${octal(found.mode)}` };
  }
  return { kind: 'keep', path: want.path };
}

/** One line per step, as `install-hooks` prints them; a dry run says what it would do. */
export function describeStep(step: InstallStep, dryRun = false): string {
  const verb = (done: string, todo: string) => (dryRun ? `would ${todo}` : done);
  const what = step.note ? `${step.path} (${step.note})` : step.path;
  switch (step.kind) {
    case 'keep':
      return `unchanged ${what}`;
    case 'write':
      if (step.why === 'new') return `${verb('installed', 'install')} ${what}: root:root ${octal(step.mode)}`;
      if (step.why === 'content') return `${verb('updated', 'update')} ${what}: it held another version`;
      return `${verb('fixed', 'fix')} ${what}: root:root ${octal(step.mode)}, it was ${step.was}`;
    case 'replace-foreign':
      return `${verb('replaced', 'replace')} ${what}: the file that was there is ${verb('kept', 'be kept')} as ${step.savedAs}`;
    case 'refuse':
      return `refused ${what}: ${step.why}`;
  }
}

/** A configuration file's text with `line` in place of the line `pattern` matches, or added at its end; and the mode it keeps (0644 when new). */
export function fileWithLine(path: string, pattern: RegExp, line: string): { existing: string; content: string; mode: number } {
  const existing = existsSync(path) && lstatSync(path).isFile() ? readFileSync(path, 'utf8') : '';
  const content = pattern.test(existing) ? existing.replace(pattern, line) : `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`;
  const mode = existsSync(path) ? statSync(path).mode & 0o644 : 0o644;
  return { existing, content, mode: mode || 0o644 };
}

/** Refuses paths an installed shim could not quote: each must be absolute and free of `unsafe` (named by `rule`); every problem at once. */
export function checkInstallPaths(paths: Record<string, string>, unsafe: RegExp, rule: string): void {
  const problems = Object.entries(paths)
    .filter(([, p]) => !p.startsWith('/') || unsafe.test(p))
    .map(([what, p]) => `${what} ${JSON.stringify(p)}: must be an absolute path without ${rule}`);
  if (problems.length) throw new VmbatchError('USAGE_INVALID', { problems });
}

/** A shim template (torque-hooks/NAME, slurm/NAME) with the configuration, vmbatch's entry file and the node binary filled in. */
export function renderShim(dir: string, name: string, o: { config: string; main: string; node: string }): string {
  return readFileSync(join(dir, name), 'utf8').replaceAll('@VMBATCH_CONFIG@', o.config).replaceAll('@VMBATCH_MAIN@', o.main).replaceAll('@NODE@', o.node);
}
