import type { CacheContext } from '../images/cache-context.js';
import { checkRteTarball } from './check-rte-package.js';
import type { Logger } from '../log/logger.js';
import { clearGuestRteFailures, ensureRtePackage, recordGuestRteFailure } from './rte-packages.js';
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

/** What the prologue knows of the job whose guest reported on its packages. */
export interface GuestReportContext {
  cacheDir: string;
  jobRef: string;
  /** the submitter: reports count once per user */
  uid: number;
  log: Logger;
}

/** The most of a guest's text the node's log keeps. */
const loggedGuestChars = 200;

/**
 * The guest reported that a package could not be installed (`rte NAME: why`). The guest is its
 * submitter's, so its word fails its own job only (the caller reports the job's error) and is
 * recorded against the package by user: the package becomes FAILED for everyone once the
 * guests of `rte.failuresToMarkFailed` different users reported it, with vmbatch's reason. The
 * guest's text goes to the node's log only. A name this job does not install is a forgery
 * aimed at another package: logged and ignored.
 */
export async function noteGuestRteFailure(rte: RtePlan, guestReason: string, ctx: GuestReportContext): Promise<void> {
  const m = /^rte (\S+): (.*)$/s.exec(guestReason);
  if (!m) return;
  const [, name, why] = m as unknown as [string, string, string];
  const fields = { job: ctx.jobRef, uid: ctx.uid, rte: name.slice(0, loggedGuestChars), guest: why.slice(0, loggedGuestChars) };
  const p = rte.packages.find((q) => q.name === name);
  if (!p) {
    // a command check is about this guest, not about a package
    if (!rte.resolution.packages.some((q) => q.name === name)) ctx.log.warn('a guest reported a failed install of a runtime environment its job does not install; ignored', fields);
    return;
  }
  ctx.log.warn('a guest reported a failed install of a runtime environment', fields);
  try {
    const outcome = await recordGuestRteFailure(ctx.cacheDir, p, { uid: ctx.uid, by: ctx.jobRef }, rte.failuresToMarkFailed);
    if (outcome?.markedFailed) {
      ctx.log.error('runtime environment marked FAILED: its install failed in the guests of different users', {
        rte: p.name,
        url: p.url,
        users: outcome.users,
        jobs: (outcome.record.guestFailures ?? []).map((f) => f.by).join(','),
      });
    }
  } catch (error) {
    // the guest's failure is the error the job reports; the package's state stays as it was
    ctx.log.error('cannot record a guest failure of a runtime environment', { rte: p.name, error: error instanceof Error ? error.message : String(error) });
  }
}

/** The guest installed every package of the job and reported ready: their counts of guest failures start again. */
export async function noteGuestRteSuccess(rte: RtePlan, ctx: GuestReportContext): Promise<void> {
  for (const p of rte.packages) {
    try {
      await clearGuestRteFailures(ctx.cacheDir, p, ctx.jobRef);
    } catch (error) {
      ctx.log.error('cannot clear the guest failures of a runtime environment', { rte: p.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
