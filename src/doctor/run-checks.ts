import { failOf, warn, type CheckResult, type DoctorCheck, type DoctorContext } from './check-result.js';

/**
 * Runs every check, all at once and each on its own: a check that throws becomes a fail line
 * of its own, and one that needs the configuration is reported as not run (a warn) when the
 * configuration did not load. Results keep the order of the list.
 */
export async function runChecks(checks: readonly DoctorCheck[], ctx: DoctorContext): Promise<CheckResult[]> {
  const outcomes = await Promise.all(checks.map((check) => runOne(check, ctx)));
  return outcomes.flat();
}

/** 0 when no check failed (warnings are fine), 1 when any did. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

async function runOne(check: DoctorCheck, ctx: DoctorContext): Promise<CheckResult[]> {
  try {
    if (check.needs === 'node') return [await check.run(ctx)].flat();
    const { config } = ctx;
    if (config === undefined) return [notRun(check.name)];
    return [await check.run({ ...ctx, config })].flat();
  } catch (error) {
    return [failOf(check.name, error)];
  }
}

// Not a fail of its own: the config line already fails, and the admin fixes that first.
function notRun(name: string): CheckResult {
  return warn(name, 'not checked: the configuration did not load', 'fix the configuration (the config line), then run `vmbatch doctor` again');
}
