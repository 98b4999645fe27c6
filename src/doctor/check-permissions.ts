import { statSync } from 'node:fs';
import { fail, ok, warn, type CheckResult, type ConfiguredContext } from './check-result.js';
import { nodeDirs } from './node-dirs.js';

/**
 * The state directory and the image cache are root's alone: owned by root, not writable by
 * group or others. A local user who can write there can swap an overlay or a cached image that
 * root's prologue then hands to a guest, or plant a link that root follows.
 */
export async function checkPermissions(ctx: ConfiguredContext): Promise<CheckResult[]> {
  return nodeDirs(ctx.config).map(({ name, key, dir }): CheckResult => {
    const check = `permissions ${name}`;
    let stat;
    try {
      // a symlinked directory (e.g. to a larger disk) is judged by what it points to
      stat = statSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return warn(check, `${dir} (${key}) does not exist yet`, 'the first job makes it (root-owned, mode 0755); nothing to do unless the path is wrong');
    }
    if (!stat.isDirectory()) return fail(check, `${dir} (${key}) is not a directory`, `remove it or set ${key} to a directory`);
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    const problems: string[] = [];
    const fixes: string[] = [];
    if (stat.uid !== 0) {
      problems.push(`owned by uid ${stat.uid}, not root`);
      fixes.push(`chown root:root ${dir}`);
    }
    const writers = [(stat.mode & 0o020) !== 0 ? 'its group' : '', (stat.mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean);
    if (writers.length) {
      problems.push(`mode ${mode}: ${writers.join(' and ')} can write there`);
      fixes.push(`chmod go-w ${dir}`);
    }
    if (problems.length === 0) return ok(check, `${dir}: owned by root, mode ${mode}`);
    return fail(check, `${dir} (${key}): ${problems.join('; ')}. A local user who can write there can attack root's jobs`, `${fixes.join(' && ')}, then look for what was put there meanwhile`);
  });
}
