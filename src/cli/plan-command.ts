import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { formatError } from '../errors/vmbatch-error.js';
import { resolveGuestGroup } from '../identity/guest-identity.js';
import { parsePrologueArgv } from '../job/hook-argv.js';
import { torqueJobDescription } from '../job/torque-job.js';
import { createLogger } from '../log/logger.js';
import { gatherJobInputs } from '../plan/job-inputs.js';
import { describePlan, planPrologue } from '../plan/prologue-plan.js';

/** `vmbatch plan JOBID USER GROUP SCRIPT [--resources LIST] [--workdir DIR]`: the prologue's plan as JSON, nothing done. */
export async function planCommand(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { resources: { type: 'string', default: '' }, workdir: { type: 'string' } } });
    const [jobId = '', user = '', group = '', script = ''] = positionals;
    const config = loadConfig();
    const args = parsePrologueArgv([jobId, user, group, 'STDIN', values.resources ?? '', 'batch', '', script]);
    const job = torqueJobDescription(args, values.workdir);
    const log = createLogger(undefined, 'plan');
    const inputs = await gatherJobInputs(config, job, { deadline: Date.now() + 120_000, log });
    // a dry run reserves nothing: the first uid of the pool stands for the job's
    const guestIdentity = { uid: config.guestIdentity.uids.first, gid: await resolveGuestGroup(config) };
    const p = planPrologue({ config, job, ...inputs, guestIdentity });
    process.stdout.write(JSON.stringify(describePlan(p), null, 2) + '\n');
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}
