import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { stopJob } from '../cleanup/stop-job.js';
import { formatError } from '../errors/vmbatch-error.js';
import { createLogger } from '../log/logger.js';
import { clearAttempts } from '../state/attempts.js';
import { readJobFailure } from '../state/job-failure.js';
import { jobPaths } from '../state/job-paths.js';
import { belongsToLaterRun, removeJobLock, withJobLock } from './job-run.js';
import { parsePrologEnv } from './prolog-env.js';

/**
 * The Slurm epilog (the SPANK plugin's job_epilog, as root): destroys the job's guest and
 * removes everything of the job (stopJob), after a finished, failed or cancelled job alike.
 * slurmd shows the submitter nothing of an epilog, so why a guest had stopped under its job goes
 * to vmbatch's log (the job's task reported GUEST_LOST already). The epilog of an earlier start
 * of a requeued job leaves a later start's guest alone. A failure is the node's (it may leave a
 * guest behind): exit 1, and Slurm drains the node.
 */
export async function runSlurmEpilog(env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const config = loadConfig();
    const { SLURM_JOB_ID: jobId, SLURM_JOB_RESTART_COUNT: restarts } = parsePrologEnv(env, 'epilog');
    const log = createLogger(config.logFile, 'slurm-epilog');
    const started = performance.now();
    return await withJobLock(config, jobId, 'epilog', async () => {
      if (belongsToLaterRun(jobPaths(config.stateDir, jobId).dir, restarts)) {
        log.info('a later start of the job owns its guest: left alone', { job: jobId, restarts });
        return 0;
      }
      const jobDir = jobPaths(config.stateDir, jobId).dir;
      // the attempts are the job's, not this start's: kept while the job is requeued after a
      // failed start, or when no prolog ran for this start (its directory is missing)
      const requeued = readJobFailure(jobDir)?.verdict === 'requeue' || !existsSync(jobDir);
      const stopped = await stopJob(config, jobId);
      if (!requeued) clearAttempts(config.stateDir, jobId);
      if (stopped.lost) log.warn('guest stopped under the job', { job: jobId, reason: stopped.lost.reason ?? 'unknown', report: stopped.lost.lines.join('\n') });
      for (const note of stopped.notes) log.info('changes', { job: jobId, note });
      removeJobLock(config, jobId);
      log.info('done', { job: jobId, domain: stopped.domain, ms: Math.round(performance.now() - started) });
      return 0;
    });
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}
