import type { Config } from '../config/schema.js';
import { resolveJobRtes } from '../catalogue/resolve-job.js';
import type { RteResolution } from '../catalogue/resolve-request.js';
import { resolveGuestSize, rteMemoryFloor, type GuestSize } from '../domain/guest-size.js';
import { nodeCapacity } from '../domain/node-capacity.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { selectTemplate } from '../domain/select-template.js';
import type { DiskPlanInput } from '../images/disk-plan.js';
import { userImageOf } from '../images/user-image-request.js';
import type { PrologueArgs } from '../job/hook-argv.js';
import { readJobScript, type JobScript } from '../job/job-script.js';
import { parseResourceList } from '../job/resources.js';
import { lookupSubmitter, type Submitter } from '../job/submitter.js';
import { torqueJobSize } from '../job/torque-size.js';
import type { Logger } from '../log/logger.js';
import { planShares, type SharePlan } from '../share/plan-shares.js';
import { jobPaths } from '../state/job-paths.js';

/** What the prologue learns of a job before it makes anything: the inputs of planPrologue. */
export interface JobInputs {
  template: DomainTemplate;
  userImage: DiskPlanInput['userImage'];
  submitter: Submitter;
  rte: RteResolution | undefined;
  guestSize: GuestSize;
  jobScript: JobScript;
  /** the job's directories in the guest: shared, staged, and the homes */
  shares: SharePlan;
}

/**
 * Reads and checks everything a job asks for, for the prologue and its dry run (`vmbatch plan`)
 * alike: the resource list (vb settings and size), the job script, a submitter's image, the
 * runtime environments (the catalogue then chooses the template), the template and the guest's
 * size within its limits, the submitter, and the directories the guest gets (the working
 * directory, PBS_O_WORKDIR, is the submitter's to choose: checked here). A refused request fails
 * here, before anything exists.
 */
export async function gatherJobInputs(config: Config, args: PrologueArgs, opts: { deadline: number; log: Logger; workdir: string | undefined }): Promise<JobInputs> {
  const { request, entries } = parseResourceList(args.resources);
  const size = torqueJobSize(entries);
  const jobScript = readJobScript(args.scriptPath);
  const userImage = userImageOf(config, request);
  // the catalogue chooses the template when the job asks for runtime environments
  const rte = await resolveJobRtes(config, request, opts);
  const template = await selectTemplate(config.domainsDir, rte?.template ?? request.vbdomain, config.defaultDomain);
  // a guest larger than the template allows is refused here
  const guestSize = resolveGuestSize(template, size, nodeCapacity(), rteMemoryFloor(rte));
  const submitter = await lookupSubmitter(args.user, args.group);
  const shares = planShares({ template, shares: config.shares, submitter, workdir: opts.workdir, request, paths: jobPaths(config.stateDir, args.jobId) });
  return { template, userImage, submitter, rte, guestSize, jobScript, shares };
}
