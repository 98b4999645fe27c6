import type { Config } from '../config/schema.js';
import { resolveJobRtes } from '../catalogue/resolve-job.js';
import type { RteResolution } from '../catalogue/resolve-request.js';
import { resolveGuestSize, rteMemoryFloor, type GuestSize } from '../domain/guest-size.js';
import { nodeCapacity } from '../domain/node-capacity.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { selectTemplate } from '../domain/select-template.js';
import type { DiskPlanInput } from '../images/disk-plan.js';
import { userImageOf } from '../images/user-image-request.js';
import type { JobDescription } from '../job/job-description.js';
import { lookupSubmitter, type Submitter } from '../job/submitter.js';
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
  /** the job's directories in the guest: shared, staged, and the homes */
  shares: SharePlan;
}

/**
 * Checks everything a job asks for against the site, for the prologue and its dry run (`vmbatch
 * plan`) alike, whichever batch system described the job: a submitter's image, the runtime
 * environments (the catalogue then chooses the template), the template and the guest's size
 * within its limits, the submitter, and the directories the guest gets (the working directory is
 * the submitter's to choose: checked here). A refused request fails here, before anything exists.
 */
export async function gatherJobInputs(config: Config, job: JobDescription, opts: { deadline: number; log: Logger }): Promise<JobInputs> {
  const { request, size } = job;
  const userImage = userImageOf(config, request);
  // the catalogue chooses the template when the job asks for runtime environments
  const rte = await resolveJobRtes(config, request, opts);
  const template = await selectTemplate(config.domainsDir, rte?.template ?? request.vbdomain, config.defaultDomain);
  // a guest larger than the template allows is refused here
  const guestSize = resolveGuestSize(template, size, nodeCapacity(), rteMemoryFloor(rte));
  const submitter = await lookupSubmitter(job.user, job.group);
  const shares = planShares({ template, shares: config.shares, submitter, workdir: job.workdir, request, paths: jobPaths(config.stateDir, job.jobId) });
  return { template, userImage, submitter, rte, guestSize, shares };
}
