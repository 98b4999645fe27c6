import type { InstallStep } from '../install/install-plan.js';
import { fail, ok, warn, type CheckResult } from './check-result.js';

/**
 * The doctor's line for one file an installer would write: ok when it is already as the
 * installer writes it; fail when missing, moded so the batch system refuses it, or not
 * vmbatch's; warn when it is vmbatch's from another version, configuration or path.
 * `install` is the command that mends it (e.g. `vmbatch install-hooks torque`).
 */
export function installStepLine(check: string, step: InstallStep, install: string, whyNeeded: string): CheckResult {
  const run = `run \`${install}\` (it prints what it changes)`;
  switch (step.kind) {
    case 'keep':
      return ok(check, `${step.path}: vmbatch's, as install-hooks writes it`);
    case 'write':
      if (step.why === 'new') return fail(check, `${step.path} is missing: ${whyNeeded}`, run);
      if (step.why === 'owner-mode') return fail(check, `${step.path} is ${step.was}: it must be root's, mode ${step.mode.toString(8).padStart(4, '0')}`, run);
      return warn(check, `${step.path} is vmbatch's but another version, configuration or path`, run);
    case 'replace-foreign':
    case 'refuse':
      return fail(
        check,
        `${step.path} is not vmbatch's${step.kind === 'refuse' ? `: ${step.why}` : ''}`,
        `look at it, then run \`${install} --force\` (it prints what it changes); the old file is kept as NAME.vmbatch-saved`,
      );
  }
}
