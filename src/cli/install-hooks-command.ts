import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { applyInstallPlan } from '../install/apply-install-plan.js';
import { describeStep, type InstallStep } from '../install/install-plan.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { planTorqueHooks, torqueDefaults } from '../install/torque-hooks.js';

/** Usage of `vmbatch install-hooks`. */
export const installHooksUsage = `  install-hooks torque [--mom-priv DIR] [--starter FILE] [--config FILE] [--force] [--dry-run]
      MOM_PRIV/prologue and epilogue (root:root 0500), the $job_starter shim (0755) and its line
      in MOM_PRIV/config; defaults: --mom-priv ${torqueDefaults.momPriv}
      --starter ${torqueDefaults.starter} --config ${torqueDefaults.config}
      Idempotent; prints what it changed; refuses to replace files that are not vmbatch's
      unless --force (which keeps each as NAME.vmbatch-saved).
`;

/** `vmbatch install-hooks torque`: plan the hooks, print each step, and perform them unless --dry-run; 0 done, 1 refused or failed. */
export async function installHooksCommand(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseOptions(argv);
    if (values.help) {
      process.stdout.write(`usage:\n${installHooksUsage}`);
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'torque') {
      throw new VmbatchError('USAGE_INVALID', { problems: [`install-hooks takes the batch system: torque (got ${positionals.length ? positionals.map((p) => `'${p}'`).join(' ') : 'nothing'})`] });
    }
    if (process.getuid?.() !== 0 && !values['dry-run']) throw new VmbatchError('NOT_ROOT', { hook: 'install-hooks' });
    const steps = planTorqueHooks(
      { momPriv: values['mom-priv'], starter: values.starter, config: values.config, node: process.execPath, main: vmbatchMain },
      values.force,
    );
    const refused = steps.filter((s) => s.kind === 'refuse');
    if (refused.length) throw new VmbatchError('INSTALL_REFUSED', { problems: refused.map((s) => describeStep(s)) });
    if (!values['dry-run']) applyInstallPlan(steps);
    for (const step of steps) process.stdout.write(`${describeStep(step, values['dry-run'])}\n`);
    if (configChanged(steps, values['mom-priv'])) process.stdout.write('pbs_mom reads $job_starter only when it starts: restart pbs_mom\n');
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

function configChanged(steps: InstallStep[], momPriv: string): boolean {
  return steps.some((s) => s.kind !== 'keep' && s.kind !== 'refuse' && s.path === join(momPriv, 'config'));
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'mom-priv': { type: 'string', default: torqueDefaults.momPriv },
        starter: { type: 'string', default: torqueDefaults.starter },
        config: { type: 'string', default: torqueDefaults.config },
        force: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] });
  }
}
