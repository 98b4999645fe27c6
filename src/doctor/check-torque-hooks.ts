import { basename } from 'node:path';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import type { InstallStep } from '../install/install-plan.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { configuredJobStarter, planTorqueHooks, torqueDefaults } from '../install/torque-hooks.js';
import { fail, ok, type CheckResult, type ConfiguredContext } from './check-result.js';
import { installStepLine } from './install-step-line.js';

/**
 * The Torque hooks as `vmbatch install-hooks torque` would install them now: MOM_PRIV/prologue
 * and epilogue owned and moded as pbs_mom demands, the `$job_starter` shim, and its line in
 * MOM_PRIV/config (without it pbs_mom runs job scripts on the node, not in guests). A node
 * without mom_priv is not a Torque node: one ok line.
 */
export async function checkTorqueHooks(ctx: ConfiguredContext): Promise<CheckResult[]> {
  const momPriv = ctx.config.torque.momPriv ?? torqueDefaults.momPriv;
  const starter = configuredJobStarter(momPriv) ?? torqueDefaults.starter;
  let steps: InstallStep[];
  try {
    steps = planTorqueHooks({ momPriv, starter, config: ctx.configPath, node: process.execPath, main: vmbatchMain }, false);
  } catch (error) {
    if (isVmbatchError(error) && error.code === 'INSTALL_TARGET_MISSING') {
      return [ok('torque', `not a Torque node: no ${momPriv} (set torque.momPriv where pbs_mom keeps it elsewhere)`)];
    }
    throw error;
  }
  return steps.map((step) => (basename(step.path) === 'config' && step.path.startsWith(momPriv) ? jobStarterLine(step) : hookFile(step)));
}

const install = 'run `vmbatch install-hooks torque` (it prints what it changes)';

function hookFile(step: InstallStep): CheckResult {
  const line = installStepLine(`torque ${basename(step.path)}`, step, 'vmbatch install-hooks torque', 'jobs on this node do not run in guests');
  // pbs_mom's own rule, said in its terms
  if (step.kind === 'write' && step.why === 'owner-mode')
    return { ...line, message: `${step.path} is ${step.was}: pbs_mom runs a hook only when root owns it, mode 0500 or stricter (the $job_starter 0755)` };
  return line;
}

function jobStarterLine(step: InstallStep): CheckResult {
  const check = 'torque $job_starter';
  if (step.kind === 'keep') return ok(check, `${step.path}: ${step.note}`);
  if (step.kind === 'refuse')
    return fail(check, `${step.path}: ${step.why}: jobs do not run in guests`, `${install.replace('install-hooks torque', 'install-hooks torque --force')}, then restart pbs_mom`);
  return fail(check, `${step.path} has no line "${step.note}": pbs_mom runs job scripts on the node itself, not in guests`, `${install}, then restart pbs_mom`);
}
