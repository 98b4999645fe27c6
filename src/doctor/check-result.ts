import type { Config } from '../config/schema.js';
import { isVmbatchError } from '../errors/vmbatch-error.js';

/** How a check ended: ok, warn (the node works, not as well as it could), fail (jobs will fail). */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of `vmbatch doctor`: a plain value the formatter prints. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  /** what to do; every warn and fail has one */
  hint?: string;
}

/** What a check returns: one line, or one per thing it looked at. */
export type CheckOutcome = CheckResult | CheckResult[];

/** What the checks look at: the configuration as loaded, and the node's paths and limits (tests change them). */
export interface DoctorContext {
  configPath: string;
  /** undefined when the configuration did not load (configError says why) */
  config: Config | undefined;
  configError: unknown;
  /** the PATH tools are looked up in */
  path: string;
  /** the KVM device */
  kvmDevice: string;
  /** virtlogd's socket, which libvirt's qemu driver connects to for every guest's log */
  virtlogdSocket: string;
  /** free space below warnBytes warns, below failBytes fails */
  space: { warnBytes: number; failBytes: number };
  /** how long a network source may take to answer */
  timeoutMs: number;
  /** where `vmbatch install-hooks slurm` puts the Slurm parts (its defaults on a real node) */
  slurm: { prefix: string; plugstack: string; plugin: string };
}

/** The context of a check that needs the configuration: it is run only once the configuration loaded. */
export type ConfiguredContext = DoctorContext & { config: Config };

/** A check that needs nothing but the node, or one that needs the loaded configuration. */
export type DoctorCheck =
  { name: string; needs: 'node'; run: (ctx: DoctorContext) => Promise<CheckOutcome> } | { name: string; needs: 'config'; run: (ctx: ConfiguredContext) => Promise<CheckOutcome> };

/** An ok line. */
export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });

/** A warn line with its hint. */
export const warn = (check: string, message: string, hint: string): CheckResult => ({ check, status: 'warn', message, hint });

/** A fail line with its hint. */
export const fail = (check: string, message: string, hint: string): CheckResult => ({ check, status: 'fail', message, hint });

/** A fail line of an error: a catalogue error keeps its message and hint, anything else is a bug in the check. */
export function failOf(check: string, error: unknown): CheckResult {
  if (isVmbatchError(error)) return fail(check, `${error.code}: ${error.message}`, error.hint);
  const text = error instanceof Error ? error.message : String(error);
  return fail(check, `the check itself failed: ${text}`, 'this is a bug in vmbatch doctor; please report it with this line');
}
