import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { planFile, type InstallStep, type WantedFile } from './install-plan.js';
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
  checkPaths(options);
  if (!isFile(options.plugin)) throw new VmbatchError('SLURM_PLUGIN_MISSING', { path: options.plugin });
  const wrapper = (name: string, what: string): WantedFile => ({ path: join(options.prefix, name), content: render(name, options), mode: 0o755, ours: ourWrapper(what) });
  return [planFile(wrapper('slurm-hook', 'hook'), force), planFile(wrapper('slurm-task', 'task starter'), force), planFile(plugstackFile(options), force)];
}

function render(name: string, o: SlurmHookOptions): string {
  return readFileSync(join(slurmHookTemplates, name), 'utf8').replaceAll('@VMBATCH_CONFIG@', o.config).replaceAll('@VMBATCH_MAIN@', o.main).replaceAll('@NODE@', o.node);
}

// plugstack.conf with our plugin's line: a line naming a vmbatch.so is replaced, else one is added.
function plugstackFile(o: SlurmHookOptions): WantedFile {
  const line = `required ${o.plugin} prefix=${o.prefix}`;
  const existing = existsSync(o.plugstack) && lstatSync(o.plugstack).isFile() ? readFileSync(o.plugstack, 'utf8') : '';
  const content = pluginLine.test(existing) ? existing.replace(pluginLine, line) : `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`;
  const mode = existsSync(o.plugstack) ? statSync(o.plugstack).mode & 0o644 : 0o644;
  // a plugstack.conf holds every site's plugins: adding ours to it is always ours to do
  return { path: o.plugstack, content, mode: mode || 0o644, ours: () => true, note: line };
}

// The wrappers quote paths in single quotes and the plugin splits its arguments on blanks.
function checkPaths(o: SlurmHookOptions): void {
  const problems = Object.entries({ '--prefix': o.prefix, '--config': o.config, '--plugstack': o.plugstack, '--plugin': o.plugin, node: o.node, main: o.main })
    .filter(([, p]) => !p.startsWith('/') || /['\n\\\s]/.test(p))
    .map(([what, p]) => `${what} ${JSON.stringify(p)}: must be an absolute path without quotes, backslashes or blanks`);
  if (problems.length) throw new VmbatchError('USAGE_INVALID', { problems });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
