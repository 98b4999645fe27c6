import type { CacheContext } from '../images/cache-context.js';
import { checkRteTarball } from './check-rte-package.js';
import { ensureRtePackage, markRteFailed } from './rte-packages.js';
import type { RtePlan } from './rte-plan.js';

/**
 * Performs the host part of an RTE plan: every package into the shared cache (one download per
 * package however many jobs want it, checked before use), recorded as used by the job. The
 * tarballs then go onto the context volume and the images become read-only disks.
 */
export async function prepareRtes(rte: RtePlan, ctx: CacheContext): Promise<void> {
  for (const p of rte.packages) {
    await ensureRtePackage(ctx, { name: p.name, instance: p.instance, url: p.url, mirrors: p.mirrors, kind: p.kind, check: p.kind === 'tar' ? checkRteTarball : undefined });
  }
}

/**
 * When the guest reports that a package could not be installed (`rte NAME: why`), the package
 * is marked FAILED so later jobs are refused at once instead of booting a guest to fail again.
 */
export async function noteGuestRteFailure(rte: RtePlan, guestReason: string, ctx: { cacheDir: string; jobRef: string }): Promise<void> {
  const m = /^rte (\S+): (.*)$/s.exec(guestReason);
  const p = m && rte.packages.find((q) => q.name === m[1]);
  // a command check or an unnamed failure is about this guest, not about a package
  if (!m || !p) return;
  await markRteFailed(ctx.cacheDir, p.url, p.name, `in the guest of job ${ctx.jobRef}: ${m[2]}`, ctx.jobRef);
}
