import { parseArgs } from 'node:util';
import { doctorChecks } from '../doctor/checks.js';
import { nodeDoctorContext } from '../doctor/doctor-context.js';
import { formatResults, formatResultsJson } from '../doctor/format-results.js';
import { doctorExitCode, runChecks } from '../doctor/run-checks.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';

/** Usage of `vmbatch doctor`. */
export const doctorUsage = `  doctor [--json]              is this node ready for jobs? one line per check (ok, warn, fail);
                               exit 0 when nothing fails, 1 when a check fails, 2 on bad usage
`;

/** `vmbatch doctor`: checks the node and prints one line per check; exit 1 when any check fails. */
export async function doctorCommand(argv: string[]): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }).values;
  } catch (error) {
    // 2, not 1: a script reading the exit code must not take a typo for a node that is not ready
    process.stderr.write(formatError(new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] })) + '\n');
    return 2;
  }
  if (values.help) {
    process.stdout.write(`usage:\n${doctorUsage}`);
    return 0;
  }
  const results = await runChecks(doctorChecks, nodeDoctorContext(process.env));
  process.stdout.write(values.json ? formatResultsJson(results) : formatResults(results));
  return doctorExitCode(results);
}
