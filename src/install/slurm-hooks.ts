import { statSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { checkInstallPaths, fileWithLine, planFile, renderShim, type InstallStep, type WantedFile } from './install-plan.js';
import { slurmHookTemplates } from './installed-paths.js';

/** Where vmbatch's Slurm parts go and what they run. */
export interface SlurmHookOptions {
  /** the directory of slurm-hook (run as root by the plugin) and slurm-task (run as the user) */
  prefix: string;
  /** the vmbatch configuration the wrappers read (VMBATCH_CONFIG) */
  config: string;
  /** slurmd's plugstack.conf, which loads the plugin */
  plugstack: string;
  /** the SPANK plugin (package vmbatch-slurm) */
  plugin: string;
  node: string;
  main: string;
}

// Debian's Slurm plugin directory for this machine's architecture
const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';

/** Where the wrappers, plugstack.conf and the plugin are unless told otherwise. */
export const slurmDefaults = {
  prefix: '/usr/local/libexec/vmbatch',
  config: '/etc/vmbatch/vmbatch.json',
  plugstack: '/etc/slurm/plugstack.conf',
  plugin: `/usr/lib/${multiarch}/slurm-wlm/vmbatch.so`,
};

/** The slurm.conf settings vmbatch needs (printed by install-hooks; docs/slurm.md says why each). */
export const slurmConfLines = ['PlugStackConfig=PLUGSTACK', 'PrologFlags=Alloc', 'PrologEpilogTimeout=300', 'BatchStartTimeout=300', 'LaunchParameters=use_interactive_step'];

// A wrapper of any vmbatch version: its first comment line names it.
const ourWrapper = (what: string) => (content: string) => new RegExp(`^# vmbatch ${what} for Slurm`, 'm').test(content);
const pluginLine = /^[ \t]*(required|optional)[ \t]+\S*\/vmbatch\.so\b.*$/m;

/**
 * The steps that install vmbatch for slurmd: PREFIX/slurm-hook and PREFIX/slurm-task (root's,
 * 0755) and the plugin's line in plugstack.conf (`required PLUGIN prefix=PREFIX`; the file's
 * other lines are kept). The plugin itself comes with the vmbatch-slurm package.
 */
export function planSlurmHooks(options: SlurmHookOptions, force: boolean): InstallStep[] {
  // the wrappers quote paths in single quotes and the plugin splits its arguments on blanks
  checkInstallPaths(
    { '--prefix': options.prefix, '--config': options.config, '--plugstack': options.plugstack, '--plugin': options.plugin, node: options.node, main: options.main },
    /['\n\\\s]/,
    'quotes, backslashes or blanks',
  );
  if (!isFile(options.plugin)) throw new VmbatchError('SLURM_PLUGIN_MISSING', { path: options.plugin });
  const wrapper = (name: string, what: string): WantedFile => ({ path: join(options.prefix, name), content: renderShim(slurmHookTemplates, name, options), mode: 0o755, ours: ourWrapper(what) });
  return [planFile(wrapper('slurm-hook', 'hook'), force), planFile(wrapper('slurm-task', 'task starter'), force), planFile(plugstackFile(options), force)];
}

// plugstack.conf with our plugin's line: a line naming a vmbatch.so is replaced, else one is added.
function plugstackFile(o: SlurmHookOptions): WantedFile {
  const line = `required ${o.plugin} prefix=${o.prefix}`;
  const { content, mode } = fileWithLine(o.plugstack, pluginLine, line);
  // a plugstack.conf holds every site's plugins: adding ours to it is always ours to do
  return { path: o.plugstack, content, mode, ours: () => true, note: line };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
