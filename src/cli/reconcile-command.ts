import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { reconcileNode } from '../cleanup/reconcile.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { createLogger } from '../log/logger.js';

/** Usage of `vmbatch reconcile`. */
export const reconcileUsage = `  reconcile [--dry-run] [--json]
                               after a crash, a reboot or a missed epilogue: remove the domains,
                               job directories, reservations and cache marks of jobs that are gone
`;

/** `vmbatch reconcile`: run at boot, from pbs_mom's start and from cron. */
export async function reconcileCommand(argv: string[]): Promise<number> {
  try {
    let values: { 'dry-run'?: boolean; json?: boolean; help?: boolean };
    try {
      values = parseArgs({
        args: argv,
        options: { 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      }).values;
    } catch (error) {
      throw new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] });
    }
    if (values.help) {
      process.stdout.write(`usage:\n${reconcileUsage}`);
      return 0;
    }
    const config = loadConfig();
    const dryRun = values['dry-run'] ?? false;
    const outcomes = await reconcileNode(config, { dryRun }, createLogger(config.logFile, 'reconcile'));
    if (values.json) {
      process.stdout.write(JSON.stringify({ dryRun, items: outcomes.map((o) => ({ ...o.item, result: o.result, line: o.line })) }, null, 2) + '\n');
      return 0;
    }
    for (const o of outcomes) process.stdout.write(o.line + '\n');
    const done = outcomes.filter((o) => o.result !== 'kept').length;
    process.stdout.write(done === 0 ? 'nothing to reconcile\n' : `${done} item${done === 1 ? '' : 's'} ${dryRun ? 'would be ' : ''}removed\n`);
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}
