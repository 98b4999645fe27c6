import type { PrologueArgs } from './hook-argv.js';
import type { JobDescription } from './job-description.js';
import { readJobScript } from './job-script.js';
import { parseResourceList } from './resources.js';
import { torqueJobSize } from './torque-size.js';

/**
 * Torque's front end: the job pbs_mom's prologue arguments and PBS_O_WORKDIR describe. The
 * resource list gives the vmbatch request (`other=vb...`) and the guest's size; the script is
 * read now (pbs_mom wrote it before the prologue), without following a link.
 */
export function torqueJobDescription(args: PrologueArgs, workdir: string | undefined): JobDescription {
  const { request, entries } = parseResourceList(args.resources);
  return {
    jobId: args.jobId,
    user: args.user,
    group: args.group,
    jobName: args.jobName,
    workdir,
    request,
    size: torqueJobSize(entries),
    script: readJobScript(args.scriptPath),
    scriptPath: args.scriptPath,
  };
}
