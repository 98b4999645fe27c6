import { basename } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import type { InstallStep } from '../install/install-plan.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { planSlurmHooks } from '../install/slurm-hooks.js';
import { fail, ok, type CheckResult, type ConfiguredContext } from './check-result.js';
import { installStepLine } from './install-step-line.js';

/**
 * The Slurm parts as `vmbatch install-hooks slurm` would install them now (its default paths): the
 * SPANK plugin, its line in plugstack.conf, the wrappers it runs. A node with neither
 * plugstack.conf nor the plugin is not a Slurm node running vmbatch: one ok line.
 */
export async function checkSlurmHooks(ctx: ConfiguredContext): Promise<CheckResult[]> {
  const options = { ...ctx.slurm, config: ctx.configPath, node: process.execPath, main: vmbatchMain };
  if (!existsSync(options.plugstack) && !existsSync(options.plugin)) return [ok('slurm', `not a Slurm node: no ${options.plugstack} and no ${options.plugin}`)];
  let steps: InstallStep[];
  try {
    steps = planSlurmHooks(options, false);
  } catch (error) {
    if (isVmbatchError(error) && error.code === 'SLURM_PLUGIN_MISSING')
      return [fail('slurm plugin', `${options.plugin} is missing: ${options.plugstack} exists, so slurmd runs jobs here, on the node itself`, error.hint)];
    throw error;
  }
  return steps.map((step) =>
    step.path === options.plugstack ? plugstackLine(step) : installStepLine(`slurm ${basename(step.path)}`, step, 'vmbatch install-hooks slurm', 'the plugin runs it for every job'),
  );
}

// A plugstack.conf without vmbatch's line is a node whose jobs run bare: fail, not "another version".
function plugstackLine(step: InstallStep): CheckResult {
  const loadsPlugin = existsSync(step.path) && /\/vmbatch\.so\b/.test(readFileSync(step.path, 'utf8'));
  if (step.kind === 'write' && !loadsPlugin) {
    return fail(
      'slurm plugstack',
      `${step.path} does not load vmbatch's plugin: slurmd runs jobs on the node itself`,
      'run `vmbatch install-hooks slurm` (it prints what it changes), then restart slurmd',
    );
  }
  return installStepLine('slurm plugstack', step, 'vmbatch install-hooks slurm', "slurmd does not load vmbatch's plugin: jobs run on the node itself");
}
