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
 * the job's status. Interactive jobs get a login shell instead of the script.
 */
export function guestJobCommand(input: { workdir: string | undefined; env: Record<string, string>; script?: string }): string {
  const lines = [`cd ${shellQuote(input.workdir ?? '.')} 2>/dev/null || cd`];
  for (const [name, value] of Object.entries(input.env)) lines.push(`export ${name}=${shellQuote(value)}`);
  if (input.script === undefined) {
    lines.push('exec "${SHELL:-/bin/sh}" -l');
  } else {
    // the job's writes must reach the overlay before the epilogue destroys the domain
    lines.push(shellQuote(input.script), 'vmbatch_rc=$?', 'sync', 'exit $vmbatch_rc');
  }
  return lines.join('\n');
}
