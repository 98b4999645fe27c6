import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { checkInstallPaths, fileWithLine, planFile, renderShim, type InstallStep, type WantedFile } from './install-plan.js';
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
  // the shims quote paths in single quotes: a path that could break out of them is refused
  checkInstallPaths({ '--mom-priv': options.momPriv, '--starter': options.starter, '--config': options.config, node: options.node, main: options.main }, /['\n\\]/, 'quotes, backslashes or newlines');
  if (!isDirectory(options.momPriv)) throw new VmbatchError('INSTALL_TARGET_MISSING', { what: "given Torque's hooks", path: options.momPriv, option: '--mom-priv' });
  const shim = (name: string, path: string, mode: number): WantedFile => ({ path, content: renderShim(torqueHookTemplates, name, options), mode, ours: ourShim(name) });
  return [
    planFile(shim('prologue', join(options.momPriv, 'prologue'), 0o500), force),
    planFile(shim('epilogue', join(options.momPriv, 'epilogue'), 0o500), force),
    planFile(shim('remoteshell', options.starter, 0o755), force),
    planFile(jobStarterConfig(options), force),
  ];
}

// MOM_PRIV/config with the `$job_starter` line naming our shim: added, or replacing a line that
// names a vmbatch shim (an earlier install elsewhere); another program's line is foreign.
function jobStarterConfig(o: TorqueHookOptions): WantedFile {
  const path = join(o.momPriv, 'config');
  const line = `$job_starter ${o.starter}`;
  const { content, mode } = fileWithLine(path, starterLine, line);
  const ours = (text: string) => {
    const named = starterLine.exec(text)?.[2];
    return named === undefined || named === o.starter || (existsSync(named) && ourShim('remoteshell')(readFileSync(named, 'utf8')));
  };
  const foreignWhy = (text: string) => `its $job_starter line names ${starterLine.exec(text)?.[2]}, which is not vmbatch's remoteshell`;
  return { path, content, mode, ours, note: line, foreignWhy };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
