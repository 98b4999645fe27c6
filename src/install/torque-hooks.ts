import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { planFile, type InstallStep, type WantedFile } from './install-plan.js';
import { torqueHookTemplates } from './installed-paths.js';

/** Where the Torque hooks go and what they run. */
export interface TorqueHookOptions {
  /** pbs_mom's mom_priv: prologue, epilogue and config live there */
  momPriv: string;
  /** the `$job_starter` shim, run as the job's user */
  starter: string;
  /** the vmbatch configuration the hooks read (VMBATCH_CONFIG) */
  config: string;
  /** the node binary and the vmbatch entry file the shims exec */
  node: string;
  main: string;
}

/** Torque's default mom_priv, and where the `$job_starter` shim goes unless told otherwise. */
export const torqueDefaults = { momPriv: '/var/spool/torque/mom_priv', starter: '/usr/local/sbin/vmbatch-remoteshell', config: '/etc/vmbatch/vmbatch.json' };

// A shim of any vmbatch version: its first comment line names it (older installs too).
const ourShim = (name: string) => (content: string) => new RegExp(`^# vmbatch ${name} for Torque's pbs_mom`, 'm').test(content);
const starterLine = /^\s*\$job_starter(\s+(\S+))?.*$/m;

/** The `$job_starter` path MOM_PRIV/config names, if any. */
export function configuredJobStarter(momPriv: string): string | undefined {
  const file = join(momPriv, 'config');
  if (!existsSync(file)) return undefined;
  return starterLine.exec(readFileSync(file, 'utf8'))?.[2];
}

/**
 * The steps that install vmbatch's Torque hooks: MOM_PRIV/prologue and epilogue (root:root 0500,
 * as pbs_mom demands), the `$job_starter` shim (0755: it runs as the job's user) and its line in
 * MOM_PRIV/config. A foreign hook or `$job_starter` is refused unless `force`.
 */
export function planTorqueHooks(options: TorqueHookOptions, force: boolean): InstallStep[] {
  checkShimPaths(options);
  if (!isDirectory(options.momPriv)) throw new VmbatchError('INSTALL_TARGET_MISSING', { what: "given Torque's hooks", path: options.momPriv, option: '--mom-priv' });
  const shim = (name: string, path: string, mode: number): WantedFile => ({ path, content: renderShim(name, options), mode, ours: ourShim(name) });
  return [
    planFile(shim('prologue', join(options.momPriv, 'prologue'), 0o500), force),
    planFile(shim('epilogue', join(options.momPriv, 'epilogue'), 0o500), force),
    planFile(shim('remoteshell', options.starter, 0o755), force),
    planFile(jobStarterConfig(options), force),
  ];
}

function renderShim(name: string, o: TorqueHookOptions): string {
  return readFileSync(join(torqueHookTemplates, name), 'utf8').replaceAll('@VMBATCH_CONFIG@', o.config).replaceAll('@VMBATCH_MAIN@', o.main).replaceAll('@NODE@', o.node);
}

// MOM_PRIV/config with the `$job_starter` line naming our shim: added, or replacing a line that
// names a vmbatch shim (an earlier install elsewhere); another program's line is foreign.
function jobStarterConfig(o: TorqueHookOptions): WantedFile {
  const path = join(o.momPriv, 'config');
  const line = `$job_starter ${o.starter}`;
  const existing = existsSync(path) && lstatSync(path).isFile() ? readFileSync(path, 'utf8') : '';
  const content = starterLine.test(existing) ? existing.replace(starterLine, line) : `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`;
  const mode = existsSync(path) ? statSync(path).mode & 0o644 : 0o644;
  const ours = (text: string) => {
    const named = starterLine.exec(text)?.[2];
    return named === undefined || named === o.starter || (existsSync(named) && ourShim('remoteshell')(readFileSync(named, 'utf8')));
  };
  const foreignWhy = (text: string) => `its $job_starter line names ${starterLine.exec(text)?.[2]}, which is not vmbatch's remoteshell`;
  return { path, content, mode: mode || 0o644, ours, note: line, foreignWhy };
}

// The shims quote paths in single quotes: a path that could break out of them is refused.
function checkShimPaths(o: TorqueHookOptions): void {
  const problems = Object.entries({ '--mom-priv': o.momPriv, '--starter': o.starter, '--config': o.config, node: o.node, main: o.main })
    .filter(([, p]) => !p.startsWith('/') || /['\n\\]/.test(p))
    .map(([what, p]) => `${what} ${JSON.stringify(p)}: must be an absolute path without quotes, backslashes or newlines`);
  if (problems.length) throw new VmbatchError('USAGE_INVALID', { problems });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
