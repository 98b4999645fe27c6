import { z } from 'zod';

/**
 * The guest size a job asks for, in batch-system-neutral terms: Torque's `-l nodes=1:ppn=P,mem=`
 * (src/job/torque-size.ts) fills it as Slurm's --cpus-per-task, --mem and --mem-per-cpu would.
 * Anything left out is the template's default; resolveGuestSize applies the template's limits.
 */
export const jobSizeSchema = z
  .object({
    /** virtual CPUs */
    vcpus: z.number().int().positive().optional(),
    /** the guest's whole memory, in MiB */
    memoryMiB: z.number().int().positive().optional(),
    /** memory per virtual CPU, in MiB (Torque's pmem, Slurm's --mem-per-cpu): times the guest's vCPUs */
    memoryPerVcpuMiB: z.number().int().positive().optional(),
    /** the values are what the batch system allocated (Slurm), not what the job asked: above the template's maximum the guest gets the maximum instead of a refusal */
    allocation: z.boolean().optional(),
    /** the job's own words for each value (e.g. `nodes=1:ppn=2`), for the dry run and for errors */
    origin: z.object({ vcpus: z.string().optional(), memory: z.string().optional() }).strict().default({}),
  })
  .strict()
  .refine((s) => s.memoryMiB === undefined || s.memoryPerVcpuMiB === undefined, { message: 'give memoryMiB or memoryPerVcpuMiB, not both' });
/** What a job asks of its guest's size. */
export type JobSize = z.infer<typeof jobSizeSchema>;
