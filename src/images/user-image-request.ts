import type { Config } from '../config/schema.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobRequest } from '../job/resources.js';
import type { DiskPlanInput } from './disk-plan.js';
import { checkUserImage, loadUserImagePolicy } from './user-image-policy.js';

/** The submitter's image of a job request, checked against the site's policy; undefined when none was asked for. */
export function userImageOf(config: Config, request: JobRequest): DiskPlanInput['userImage'] {
  if (request.vbuserimage === undefined) {
    if (request.vbuserimagehash !== undefined) {
      throw new VmbatchError('RESOURCE_INVALID', { problems: ['vbuserimagehash is given without vbuserimage'] });
    }
    return undefined;
  }
  const policyPath = config.images.userImagePolicy;
  const policy = loadUserImagePolicy(policyPath);
  const source = checkUserImage({ image: request.vbuserimage, hashText: request.vbuserimagehash, policy, policyPath });
  return { source, copyMethod: policy!.copyMethod };
}
