import { loadConfig } from '../config/load.js';
import { formatError } from '../errors/vmbatch-error.js';
import { jobIdSchema } from '../job/names.js';
import { sessionMuxCommand } from '../remoteshell/start-session-mux.js';

/**
 * `vmbatch session-mux JOBID` (root; started by the Slurm prolog): serves the job's sessions
 * until its guest's connection ends, so this never returns once it serves.
 */
export async function runSessionMuxCommand(argv: string[]): Promise<number> {
  try {
    const jobId = jobIdSchema.parse(argv[0]);
    await sessionMuxCommand(loadConfig(), jobId);
    return await new Promise<number>(() => undefined);
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}
