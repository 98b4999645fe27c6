import { failOf, ok, type CheckResult, type DoctorContext } from './check-result.js';

/** The configuration loads as the hooks load it (loadConfig); when not, the catalogue's message and hint. */
export async function checkConfig(ctx: DoctorContext): Promise<CheckResult> {
  if (ctx.config === undefined) return failOf('config', ctx.configError);
  return ok('config', `${ctx.configPath} is valid`);
}
