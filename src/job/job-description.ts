import { z } from 'zod';
import { jobRequestSchema } from './resources.js';
import { jobScriptSchema } from './job-script.js';
import { jobSizeSchema } from './job-size.js';
import { jobIdSchema, posixNameSchema } from './names.js';

/**
 * One job as every front end hands it to the machinery below (Torque's hooks, Slurm's SPANK
 * plugin): who submitted it, where it runs, what it asks of vmbatch and of its guest's size,
 * and its script. Everything in it comes from the batch system and the submitter: each front end
 * builds it from validated parts, and the prologue plans from it alone.
 */
export const jobDescriptionSchema = z
  .object({
    /** the batch system's job id ("2.vm" under Torque, "900001" under Slurm) */
    jobId: jobIdSchema,
    user: posixNameSchema,
    group: posixNameSchema,
    /** the job's name, for the guest (VB_JOBNAME) */
    jobName: z.string(),
    /** the submitter's working directory (PBS_O_WORKDIR, Slurm's --chdir), shared or staged into the guest */
    workdir: z.string().optional(),
    /** what the submitter asked of vmbatch (Torque's `-l other=vb...`, Slurm's --vm-* options) */
    request: jobRequestSchema,
    /** what the job asked of its guest's size */
    size: jobSizeSchema,
    /** the job script the prologue ships into the guest, or none (see jobScriptSchema) */
    script: jobScriptSchema,
    /** the script's path on the node, which remoteshell checks against (Torque) */
    scriptPath: z.string().optional(),
    /** the job runs several sessions in its guest at once (Slurm: the batch script and srun steps): a session multiplexer serves them */
    concurrentSessions: z.boolean().optional(),
  })
  .strict();
/** A job, batch-system neutral. */
export type JobDescription = z.infer<typeof jobDescriptionSchema>;
