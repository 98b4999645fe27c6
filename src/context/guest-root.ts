import type { Config } from '../config/schema.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobRequest } from '../job/resources.js';

/**
 * Whether the submitter is root in their guest (vbroot=yes: sudo there), as the site's
 * guestRoot allows: never, only for a job that saves its changes, or always. The guest is the
 * submitter's alone, so this grants nothing on the node. GUEST_ROOT_NOT_ALLOWED otherwise.
 */
export function guestRootOf(config: Config, request: JobRequest): boolean {
  if (request.vbroot !== 'yes') return false;
  if (config.guestRoot === 'always') return true;
  if (config.guestRoot === 'saving-changes' && request.vbsavechanges !== undefined) return true;
  const reason =
    config.guestRoot === 'saving-changes' ? 'only a job that saves its changes (vbsavechanges=NAME) may ask for it' : "the site allows it for no job (its configuration's guestRoot is never)";
  throw new VmbatchError('GUEST_ROOT_NOT_ALLOWED', { reason });
}
