import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { stagedDirectorySchema } from '../share/staged-directory.js';
import { changesPlanSchema } from '../changes/changes-plan.js';

/** What the prologue leaves for remoteshell and the epilogue (state.json, world-readable, no secrets). */
export const jobStateSchema = z.object({
  version: z.literal(1),
  jobId: z.string(),
  user: z.string(),
  uid: z.number().int(),
  domainName: z.string(),
  libvirtUri: z.string(),
  phase: z.enum(['preparing', 'booting', 'ready']),
  /** the guest's SSH channel: a unix socket owned by the submitter, mode 0600 (absent without <vbsshchannel/>) */
  sshSocket: z.string().optional(),
  hostPublicKey: z.string(),
  /** the submitter's primary gid (absent in states of older versions) */
  gid: z.number().int().optional(),
  /** many sessions at once (Slurm's batch script and srun steps): the session multiplexer's socket, the submitter's, mode 0600 */
  sessionSocket: z.string().optional(),
  /** the multiplexer's host key (OpenSSH public line): the only one a task accepts there */
  sessionHostPublicKey: z.string().optional(),
  /** how remoteshell reaches the job: SSH (default), or the guest's login console socket */
  remoteshell: z.enum(['ssh', 'console']).default('ssh'),
  consoleSocket: z.string().optional(),
  /** the guest's name and address as it reported them with its ready line */
  guestReport: z.string().optional(),
  /** runtime environments: settings to export and runtime scripts to source around the job */
  rte: z.object({ exports: z.array(z.string()), runtimes: z.array(z.string()) }).optional(),
  hostScriptPath: z.string(),
  guestScriptPath: z.string(),
  /** `qsub -I`: the job has no script (absent in states of older versions: stdin decides then) */
  interactive: z.boolean().optional(),
  /** the guest's vCPUs: remoteshell writes the guest's node file (its name once per vCPU) and PBS_NP (absent in states of older versions) */
  vcpus: z.number().int().positive().optional(),
  /** the job's working directory: the guest starts the job there (absent in states of older versions: PBS_O_WORKDIR decides) */
  workdir: z.string().optional(),
  /** the submitter's home on the node: the job's HOME in the guest */
  home: z.string().optional(),
  /** the working directory copied in before the job and back after it (rw) by remoteshell as the submitter */
  staged: stagedDirectorySchema.optional(),
  createdAt: z.string(),
  /** the submitter's saved changes the job boots from and saves (src/changes) */
  changes: changesPlanSchema.optional(),
  /** the waiting guest the job took from its template's pool (its domain, sockets and console are in that guest's directory) */
  poolGuest: z
    .string()
    .regex(/^pool-[0-9a-f]{12}-[0-9]+$/)
    .optional(),
  /** the node's boot id when the prologue ran: a state of an earlier boot belongs to no live job */
  bootId: z.string().optional(),
});
/** A job's state. */
export type JobState = z.input<typeof jobStateSchema>;

/** Writes the state atomically, readable by the job's user (remoteshell runs as them). */
export function writeJobState(file: string, state: JobState): void {
  writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
}

/** Reads and validates a job's state; undefined when the job has none. */
export function readJobState(file: string): JobState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return jobStateSchema.parse(JSON.parse(text));
}

/** The job's state for cleanup and reports, where a damaged state counts as none (remoteshell reads it strictly). */
export function readJobStateIfValid(file: string): JobState | undefined {
  try {
    return readJobState(file);
  } catch {
    return undefined;
  }
}
