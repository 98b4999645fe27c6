import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { applyInstallPlan } from '../install/apply-install-plan.js';
import { describeStep, type InstallStep } from '../install/install-plan.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { planSlurmHooks, slurmConfLines, slurmDefaults } from '../install/slurm-hooks.js';
import { planTorqueHooks, torqueDefaults } from '../install/torque-hooks.js';

/** Usage of `vmbatch install-hooks`. */
export const installHooksUsage = `  install-hooks torque [--mom-priv DIR] [--starter FILE] [--config FILE] [--force] [--dry-run]
      MOM_PRIV/prologue and epilogue (root:root 0500), the $job_starter shim (0755) and its line
      in MOM_PRIV/config; defaults: --mom-priv ${torqueDefaults.momPriv}
      --starter ${torqueDefaults.starter} --config ${torqueDefaults.config}
  install-hooks slurm [--prefix DIR] [--plugstack FILE] [--plugin FILE] [--config FILE] [--force] [--dry-run]
      PREFIX/slurm-hook and slurm-task (0755) and the plugin's line in plugstack.conf; defaults:
      --prefix ${slurmDefaults.prefix} --plugstack ${slurmDefaults.plugstack}
      --plugin ${slurmDefaults.plugin} (package vmbatch-slurm)
  Both are idempotent, print what they changed, and refuse to replace files that are not
  vmbatch's unless --force (which keeps each as NAME.vmbatch-saved).
`;

const systemOptions = { torque: ['mom-priv', 'starter'], slurm: ['prefix', 'plugstack', 'plugin'] } as const;

/** `vmbatch install-hooks torque|slurm`: plan the files, print each step, and perform them unless --dry-run; 0 done, 1 refused or failed. */
export async function installHooksCommand(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseOptions(argv);
    if (values.help) {
      process.stdout.write(`usage:\n${installHooksUsage}`);
      return 0;
    }
    const system = positionals[0];
    if (positionals.length !== 1 || (system !== 'torque' && system !== 'slurm')) {
      throw new VmbatchError('USAGE_INVALID', {
        problems: [`install-hooks takes the batch system: torque or slurm (got ${positionals.length ? positionals.map((p) => `'${p}'`).join(' ') : 'nothing'})`],
      });
    }
    const other = system === 'torque' ? systemOptions.slurm : systemOptions.torque;
    const misplaced = other.filter((o) => values[o] !== undefined).map((o) => `--${o} is an option of install-hooks ${system === 'torque' ? 'slurm' : 'torque'}`);
    if (misplaced.length) throw new VmbatchError('USAGE_INVALID', { problems: misplaced });
    if (process.getuid?.() !== 0 && !values['dry-run']) throw new VmbatchError('NOT_ROOT', { hook: 'install-hooks' });
    const dryRun = values['dry-run'];
    const self = { node: process.execPath, main: vmbatchMain, config: values.config ?? torqueDefaults.config };
    const steps =
      system === 'torque'
        ? planTorqueHooks({ ...self, momPriv: values['mom-priv'] ?? torqueDefaults.momPriv, starter: values.starter ?? torqueDefaults.starter }, values.force)
        : planSlurmHooks(
            { ...self, prefix: values.prefix ?? slurmDefaults.prefix, plugstack: values.plugstack ?? slurmDefaults.plugstack, plugin: values.plugin ?? slurmDefaults.plugin },
            values.force,
          );
    const refused = steps.filter((s) => s.kind === 'refuse');
    if (refused.length) throw new VmbatchError('INSTALL_REFUSED', { problems: refused.map((s) => describeStep(s)) });
    if (!dryRun) applyInstallPlan(steps);
    for (const step of steps) process.stdout.write(`${describeStep(step, dryRun)}\n`);
    if (system === 'torque' && changed(steps, join(values['mom-priv'] ?? torqueDefaults.momPriv, 'config'))) {
      process.stdout.write('pbs_mom reads $job_starter only when it starts: restart pbs_mom\n');
    }
    if (system === 'slurm') {
      const plugstack = values.plugstack ?? slurmDefaults.plugstack;
      if (changed(steps, plugstack)) process.stdout.write('slurmd loads plugstack.conf only when it starts: restart slurmd\n');
      process.stdout.write(
        `slurm.conf must have (every node and the controller; restart slurmctld and slurmd after changing it):\n${slurmConfLines.map((l) => `  ${l.replace('PLUGSTACK', plugstack)}\n`).join('')}`,
      );
    }
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

function changed(steps: InstallStep[], path: string): boolean {
  return steps.some((s) => s.kind !== 'keep' && s.kind !== 'refuse' && s.path === path);
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'mom-priv': { type: 'string' },
        starter: { type: 'string' },
        prefix: { type: 'string' },
        plugstack: { type: 'string' },
        plugin: { type: 'string' },
        config: { type: 'string' },
        force: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] });
  }
}
