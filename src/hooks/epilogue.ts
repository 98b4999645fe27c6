import { loadConfig } from '../config/load.js';
import { stopJob } from '../cleanup/stop-job.js';
import { formatError } from '../errors/vmbatch-error.js';
import { parseEpilogueArgv } from '../job/hook-argv.js';
import { createLogger } from '../log/logger.js';
import { clearAttempts } from '../state/attempts.js';

/** pbs_mom's exit status for a job requeued after a prologue failure. */
const requeuedStatus = '-14';

/**
 * The Torque epilogue: tears the job's guest down and removes everything of the job (stopJob).
 * Idempotent; runs after a finished job, after a failed prologue and at every retry (then the
 * attempt count is kept, so the retry bound holds across requeues). Its exit code does not
 * change the job, but a failure is reported on stderr and in the log.
 */
export async function runEpilogue(argv: string[]): Promise<number> {
  try {
    const config = loadConfig();
    const args = parseEpilogueArgv(argv);
    const log = createLogger(config.logFile, 'epilogue');
    const started = performance.now();
    // the retry count belongs to the job, not to its guest: settle it even if teardown fails
    if (args.exitStatus !== requeuedStatus) clearAttempts(config.stateDir, args.jobId);
    const stopped = await stopJob(config, args.jobId);
    // a guest that was gone already stopped under the job: say why in the job's error file
    if (stopped.lost) {
      process.stderr.write(stopped.lost.lines.join('\n') + '\n');
      log.warn('guest stopped under the job', { job: args.jobId, reason: stopped.lost.reason ?? 'unknown', exit: args.exitStatus });
    }
    // saved changes (vbsavechanges): where they went, or why not
    if (stopped.notes.length) process.stderr.write(stopped.notes.join('\n') + '\n');
    for (const note of stopped.notes) log.info('changes', { job: args.jobId, note });
    log.info('done', { job: args.jobId, domain: stopped.domain, exit: args.exitStatus, ms: Math.round(performance.now() - started) });
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}
