import { gatherNodeFacts } from '../cleanup/node-facts.js';
import { describeItem, planReconcile } from '../cleanup/reconcile-plan.js';
import { ok, warn, type CheckResult, type ConfiguredContext } from './check-result.js';

/**
 * What jobs that no longer exist left on the node: `vmbatch reconcile`'s plan, nothing removed.
 * The plan is made without reconcile's lock, which would create STATEDIR/reconcile.lock: the
 * doctor only reads.
 */
export async function checkLeftovers(ctx: ConfiguredContext): Promise<CheckResult> {
  const items = planReconcile(await gatherNodeFacts(ctx.config));
  if (items.length === 0) return ok('leftovers', 'nothing of jobs that are gone');
  const lines = items.map((item) => `  - ${describeItem(item)} (${item.reason})`);
  return warn('leftovers', `${items.length} item${items.length === 1 ? '' : 's'} of jobs that are gone, which \`vmbatch reconcile\` would remove:\n${lines.join('\n')}`, 'run `vmbatch reconcile`');
}
