import { gatherNodeFacts } from '../cleanup/node-facts.js';
import { describeItem, planReconcile } from '../cleanup/reconcile-plan.js';
import { isVmbatchError } from '../errors/vmbatch-error.js';
import { ok, warn, type CheckResult, type ConfiguredContext } from './check-result.js';

/**
 * What jobs that no longer exist left on the node: `vmbatch reconcile`'s plan, nothing removed.
 * The plan is made without reconcile's lock, which would create STATEDIR/reconcile.lock: the
 * doctor only reads.
 */
export async function checkLeftovers(ctx: ConfiguredContext): Promise<CheckResult> {
  let facts;
  try {
    facts = await gatherNodeFacts(ctx.config);
  } catch (error) {
    // the libvirt line already fails for this; a second fail would say the same
    if (!isVmbatchError(error, 'LIBVIRT_UNREACHABLE')) throw error;
    return warn('leftovers', `not checked: libvirt at ${ctx.config.libvirtUri} does not answer (the libvirt line)`, 'start libvirtd, then run `vmbatch doctor` again');
  }
  const items = planReconcile(facts);
  if (items.length === 0) return ok('leftovers', 'nothing of jobs that are gone');
  const lines = items.map((item) => `  - ${describeItem(item)} (${item.reason})`);
  return warn('leftovers', `${items.length} item${items.length === 1 ? '' : 's'} of jobs that are gone, which \`vmbatch reconcile\` would remove:\n${lines.join('\n')}`, 'run `vmbatch reconcile`');
}
