import { chownSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import type { InstallStep } from './install-plan.js';

/** Performs an installation plan: each file written atomically as root's with its mode; a replaced foreign file kept beside it. */
export function applyInstallPlan(steps: InstallStep[]): void {
  for (const step of steps) {
    if (step.kind !== 'write' && step.kind !== 'replace-foreign') continue;
    const dir = dirname(step.path);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chownSync(dir, 0, 0);
    }
    // an earlier save is never overwritten: it may be the only copy of the site's own hook
    if (step.kind === 'replace-foreign') renameSync(step.path, freeName(step.savedAs));
    writeFileAtomic(step.path, step.content, { mode: step.mode, uid: 0, gid: 0 });
  }
}

function freeName(path: string): string {
  let name = path;
  for (let n = 1; existsSync(name); n++) name = `${path}.${n}`;
  return name;
}
