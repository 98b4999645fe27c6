import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';

/** The group every guest's qemu process is in: it may read submitters' cached images, nobody else may. */
export const defaultGuestGroup = 'libvirt-qemu';

/**
 * The gid of the guests' group (`getent group NAME`). The one place that names it: when the
 * group comes from the configuration (guestIdentity.group), only the caller's argument changes.
 */
export async function guestGroupGid(name: string = defaultGuestGroup): Promise<number> {
  const result = await runTool(['getent', 'group', name], { okExitCodes: [2] });
  const gid = Number(result.stdout.split(':')[2]);
  if (result.exitCode === 2 || !Number.isInteger(gid)) {
    throw new VmbatchError('TOOL_FAILED', { argv: result.argv, exitCode: result.exitCode, stderr: `the guests' group ${name} does not exist` });
  }
  return gid;
}
