import { z } from 'zod';

/** The working directory copied into the guest before the job and back after it (rw), by remoteshell as the submitter (kept in the job's state). */
export const stagedDirectorySchema = z.object({ hostDir: z.string(), guestDir: z.string(), mode: z.enum(['rw', 'ro']) });
/** A staged working directory. */
export type StagedDirectory = z.infer<typeof stagedDirectorySchema>;
