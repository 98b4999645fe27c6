import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail, ok, warn, type CheckResult, type ConfiguredContext } from './check-result.js';
import { nodeDirs } from './node-dirs.js';

const gib = 1024 ** 3;

/** Free space where jobs' overlays (stateDir) and images (the cache) go: warn below space.warnBytes, fail below space.failBytes. */
export async function checkFreeSpace(ctx: ConfiguredContext): Promise<CheckResult[]> {
  return nodeDirs(ctx.config).map(({ name, key, dir }): CheckResult => {
    const check = `space ${name}`;
    // a directory not made yet will be made on the filesystem of its nearest existing parent
    const free = freeBytes(dir);
    const said = `${formatGiB(free)} free for ${dir} (${key})`;
    const hint = `free space there (\`vmbatch images prune --max-size SIZE\` for the cache, \`vmbatch reconcile\` for jobs that are gone) or give ${key} a larger filesystem`;
    if (free < ctx.space.failBytes) return fail(check, `only ${said}, less than ${formatGiB(ctx.space.failBytes)}: jobs fail with DISK_FULL`, hint);
    if (free < ctx.space.warnBytes) return warn(check, `only ${said}, less than ${formatGiB(ctx.space.warnBytes)}`, hint);
    return ok(check, said);
  });
}

/** The thresholds `vmbatch doctor` uses: warn below 5 GiB, fail below 1 GiB. */
export const defaultSpaceThresholds = { warnBytes: 5 * gib, failBytes: 1 * gib };

function freeBytes(dir: string): number {
  for (let at = dir; ; at = dirname(at)) {
    try {
      const s = statfsSync(at);
      return s.bavail * s.bsize;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || at === '/') throw error;
    }
  }
}

function formatGiB(bytes: number): string {
  return `${(bytes / gib).toFixed(1)} GiB`;
}
