import type { JobRteSetup } from '../context/rte-layout.js';
import { shellQuote } from '../shell/quote.js';

/** The job environment remoteshell carries into the guest: the batch system's variables, Torque's PBS_* (or Slurm's SLURM_*). */
export function jobEnvironment(env: NodeJS.ProcessEnv, batchSystem: 'PBS' | 'SLURM' = 'PBS'): Record<string, string> {
  const out: Record<string, string> = {};
  const ours = new RegExp(`^${batchSystem}_[A-Z0-9_]+$`);
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && ours.test(name)) out[name] = value;
  }
  return out;
}

/**
 * The command the guest's login shell runs: set HOME to the node's home path, enter the job's
 * working directory (the home directory when the guest lacks it), export the job environment, run the job script (its
 * #! line chooses the interpreter, as on a plain Torque node), flush the disks, and exit with
 * the job's status. Interactive jobs get a login shell instead of the script (and sync too). With runtime
 * environments, their kb:environ settings are exported and each control/runtime is sourced
 * with stage 1 before the job and stage 2 after it, in the job's shell, as ARC does. With the
 * guest's vCPUs known, the job's node file is made in the guest (guestNodeFileLines).
 */
export function guestJobCommand(input: {
  workdir: string | undefined;
  home?: string | undefined;
  env: Record<string, string>;
  /** the job script's path in the guest */
  script?: string;
  /** instead of a script: a shell command (a Slurm task's argv, quoted), after `prelude` */
  run?: { prelude: string[]; command: string };
  rte?: JobRteSetup | undefined;
  vcpus?: number | undefined;
}): string {
  // HOME is the node's home path, also when the guest's passwd names a guest-private login home
  const lines = [...(input.run?.prelude ?? []), ...(input.home !== undefined ? [`export HOME=${shellQuote(input.home)}`] : []), `cd ${shellQuote(input.workdir ?? '.')} 2>/dev/null || cd`];
  for (const [name, value] of Object.entries(input.env)) lines.push(`export ${name}=${shellQuote(value)}`);
  if (input.vcpus !== undefined) lines.push(...guestNodeFileLines(input.vcpus));
  const rte = input.rte ?? { exports: [], runtimes: [] };
  for (const setting of rte.exports) {
    const at = setting.indexOf('=');
    lines.push(`export ${setting.slice(0, at)}=${shellQuote(setting.slice(at + 1))}`);
  }
  // `set -- N` passes the stage: POSIX `.` takes no arguments, every shell passes positional ones
  const stage = (n: number, failure: string) => rte.runtimes.map((r) => `set -- ${n}; . ${shellQuote(r)} || ${failure.replace('%R', shellQuote(r))}`);
  lines.push(...stage(1, `{ printf 'vmbatch: %s 1 failed\\n' %R >&2; exit 1; }`));
  const command = input.run?.command ?? (input.script === undefined ? undefined : shellQuote(input.script));
  // the job's writes (an interactive one's too: what the user saves as changes) must reach the
  // overlay before the epilogue destroys the domain
  lines.push(command ?? '"${SHELL:-/bin/sh}" -l', 'vmbatch_rc=$?', ...(command === undefined ? [] : stage(2, 'true')), 'sync', 'exit $vmbatch_rc');
  return lines.join('\n');
}

/**
 * Shell lines that give the job a node file in the guest, as pbs_mom gives one on the host: the
 * guest's name once per vCPU, in a fresh file of the user's (mktemp), named by PBS_NODEFILE (the
 * host's path means nothing in the guest); PBS_NP and PBS_NUM_PPN count the vCPUs, PBS_NUM_NODES
 * is 1. When the file cannot be made the job still runs, without PBS_NODEFILE, and says why.
 */
export function guestNodeFileLines(vcpus: number): string[] {
  const n = String(Math.trunc(vcpus));
  return [
    `export PBS_NP=${n} PBS_NUM_PPN=${n} PBS_NUM_NODES=1`,
    `if vmbatch_nodefile=$(mktemp "\${TMPDIR:-/tmp}/vmbatch-nodefile.XXXXXX") && (vmbatch_n=0; while [ "$vmbatch_n" -lt ${n} ]; do uname -n; vmbatch_n=$((vmbatch_n + 1)); done) > "$vmbatch_nodefile"; then export PBS_NODEFILE="$vmbatch_nodefile"; else unset PBS_NODEFILE; echo 'vmbatch: cannot write the node file in the guest; PBS_NODEFILE is unset' >&2; fi`,
  ];
}
