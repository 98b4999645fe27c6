import type { JobRteSetup } from '../context/rte-layout.js';
import { shellQuote } from '../shell/quote.js';

/** The job environment remoteshell carries into the guest: Torque's PBS_* variables. */
export function jobEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && /^PBS_[A-Z0-9_]+$/.test(name)) out[name] = value;
  }
  return out;
}

/**
 * The command the guest's login shell runs: enter the job's working directory (the home
 * directory when the guest lacks it), export the job environment, run the job script (its
 * #! line chooses the interpreter, as on a plain Torque node), flush the disks, and exit with
 * the job's status. Interactive jobs get a login shell instead of the script. With runtime
 * environments, their kb:environ settings are exported and each control/runtime is sourced
 * with stage 1 before the job and stage 2 after it, in the job's shell, as ARC does.
 */
export function guestJobCommand(input: { workdir: string | undefined; env: Record<string, string>; script?: string; rte?: JobRteSetup | undefined }): string {
  const lines = [`cd ${shellQuote(input.workdir ?? '.')} 2>/dev/null || cd`];
  for (const [name, value] of Object.entries(input.env)) lines.push(`export ${name}=${shellQuote(value)}`);
  const rte = input.rte ?? { exports: [], runtimes: [] };
  for (const setting of rte.exports) {
    const at = setting.indexOf('=');
    lines.push(`export ${setting.slice(0, at)}=${shellQuote(setting.slice(at + 1))}`);
  }
  // `set -- N` passes the stage: POSIX `.` takes no arguments, every shell passes positional ones
  const stage = (n: number, failure: string) =>
    rte.runtimes.map((r) => `set -- ${n}; . ${shellQuote(r)} || ${failure.replace('%R', shellQuote(r))}`);
  lines.push(...stage(1, `{ printf 'vmbatch: %s 1 failed\\n' %R >&2; exit 1; }`));
  if (input.script === undefined) {
    lines.push('exec "${SHELL:-/bin/sh}" -l');
  } else {
    // the job's writes must reach the overlay before the epilogue destroys the domain
    lines.push(shellQuote(input.script), 'vmbatch_rc=$?', ...stage(2, 'true'), 'sync', 'exit $vmbatch_rc');
  }
  return lines.join('\n');
}
