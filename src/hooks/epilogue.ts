import { loadConfig } from '../config/load.js';
import { teardownJob } from '../cleanup/teardown.js';
import { guestExitReport } from '../cleanup/guest-exit-report.js';
import { destroyDomain } from '../hypervisor/virsh.js';
import { domainNameFor } from '../job/names.js';
import { formatError } from '../errors/vmbatch-error.js';
import { parseEpilogueArgv } from '../job/hook-argv.js';
import { createLogger } from '../log/logger.js';
import { clearAttempts } from '../state/attempts.js';

/** pbs_mom's exit status for a job requeued after a prologue failure. */
const requeuedStatus = '-14';

/**
 * The Torque epilogue: tears the job's guest down and removes everything of the job.
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
    const domain = await destroyDomain(config.libvirtUri, domainNameFor(args.jobId));
    // a guest that was gone already stopped under the job: say why in the job's error file,
    // before the teardown removes the evidence
    const lost = reportSafely(() => guestExitReport(config, args.jobId, domain));
    if (lost) {
      process.stderr.write(lost.lines.join('\n') + '\n');
      log.warn('guest stopped under the job', { job: args.jobId, reason: lost.reason ?? 'unknown', exit: args.exitStatus });
    }
    const report = await teardownJob(config, args.jobId, { domain });
    log.info('done', { job: args.jobId, domain: report.domain, exit: args.exitStatus, ms: Math.round(performance.now() - started) });
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

// The report must never keep the teardown from running.
function reportSafely<T>(report: () => T): T | undefined {
  try {
    return report();
  } catch {
    return undefined;
  }
}
