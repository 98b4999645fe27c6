import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';

/** The submitting user as the node knows them (NSS), the identity the guest must reproduce. */
export const submitterSchema = z.object({
  user: z.string(),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  group: z.string(),
  home: z.string(),
  shell: z.string(),
});
/** The submitting user. */
export type Submitter = z.infer<typeof submitterSchema>;

/**
 * Looks the user up through NSS (getent, so LDAP/SSSD users work as pbs_mom sees them). The
 * group is Torque's argv[3], checked to exist; its gid becomes the guest's primary group.
 */
export async function lookupSubmitter(user: string, group: string): Promise<Submitter> {
  const pw = await runTool(['getent', 'passwd', user], { okExitCodes: [2] });
  const fields = pw.stdout.trim().split(':');
  if (pw.exitCode === 2 || fields.length < 7) throw new VmbatchError('USER_UNKNOWN', { user });
  const gr = await runTool(['getent', 'group', group], { okExitCodes: [2] });
  const groupFields = gr.stdout.trim().split(':');
  const gid = gr.exitCode === 2 || groupFields.length < 3 ? Number(fields[3]) : Number(groupFields[2]);
  const groupName = gr.exitCode === 2 ? user : group;
  return submitterSchema.parse({
    user,
    uid: Number(fields[2]),
    gid,
    group: groupName,
    home: fields[5] || '/',
    shell: fields[6] || '/bin/sh',
  });
}
