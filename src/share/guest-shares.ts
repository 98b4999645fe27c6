import type { GuestParams } from '../context/guest-params.js';
import { shellQuote } from '../shell/quote.js';
import type { SharePlan } from './plan-shares.js';

/** The guest parameters that tell the guest what to mount and make: VB_SHARES, VB_STAGE_DIR, VB_LOGIN_HOME. */
export function shareParams(plan: SharePlan): Pick<GuestParams, 'VB_SHARES' | 'VB_STAGE_DIR' | 'VB_LOGIN_HOME'> {
  return {
    VB_SHARES: plan.shared.map((s) => `${s.tag}\t${s.mode}\t${s.path}`).join('\n'),
    VB_STAGE_DIR: plan.staged?.guestDir ?? '',
    VB_LOGIN_HOME: plan.loginHome,
  };
}

/**
 * Shell lines (run as root in the guest) that mount the shares and make the staged working
 * directory the user's, each failure reported through `fail MESSAGE`: for the cloud-init
 * context, whose script is generated; prolog.sh does the same from VB_SHARES.
 */
export function guestShareCommands(plan: SharePlan, owner: { uid: number; gid: number }): string[] {
  const lines = plan.shared.length ? ['modprobe virtiofs 2>/dev/null || true'] : [];
  for (const s of plan.shared) {
    const path = shellQuote(s.path);
    lines.push(
      `mkdir -p ${path} && mount -t virtiofs -o ${s.mode},nodev ${s.tag} ${path} || fail ${shellQuote(`cannot mount the shared directory ${s.path} (virtiofs tag ${s.tag}): does the guest kernel have virtiofs?`)}`,
    );
  }
  if (plan.staged) {
    const dir = shellQuote(plan.staged.guestDir);
    lines.push(`mkdir -p ${dir} && chown ${owner.uid}:${owner.gid} ${dir} || fail ${shellQuote(`cannot make the working directory ${plan.staged.guestDir} for the staged files`)}`);
  }
  return lines;
}
