import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { releaseAll, reserveOne } from '../state/reservations.js';

/** The numeric identity a job's qemu runs as: its own uid, the group all guests share. */
export interface GuestIdentity {
  uid: number;
  gid: number;
}

/** The reservation kind of guest uids (STATEDIR/guest-uids, one file per uid). */
export const guestUidKind = 'guest-uids';

/** Resolves guestIdentity.group through NSS (getent); root's group is refused (gid 0 reads root's files). */
export async function resolveGuestGroup(config: Config): Promise<number> {
  const { group } = config.guestIdentity;
  const result = await runTool(['getent', 'group', group], { okExitCodes: [2] });
  const gid = Number(result.stdout.trim().split(':')[2]);
  if (result.exitCode === 2 || !Number.isInteger(gid)) throw new VmbatchError('GUEST_GROUP_UNUSABLE', { group, reason: 'getent group found nothing' });
  if (gid === 0) throw new VmbatchError('GUEST_GROUP_UNUSABLE', { group, reason: "it is root's group (gid 0)" });
  return gid;
}

/**
 * Reserves a uid of the pool for the job's qemu (O_EXCL reservation in STATEDIR/guest-uids,
 * private to root). A uid some process still runs as (e.g. what an escaped qemu left behind)
 * or that a user of the node has is skipped: a job never shares its uid with anything else.
 * A full pool is transient: the job is requeued.
 */
export async function reserveGuestIdentity(config: Config, jobId: string): Promise<GuestIdentity> {
  // looked up while the uid is reserved (each getent costs a process start)
  const group = resolveGuestGroup(config);
  group.catch(() => undefined);
  const { first, last } = config.guestIdentity.uids;
  // made private before reserveOne sees it (it keeps an existing directory's mode)
  ensureDir(join(config.stateDir, guestUidKind), 0o700);
  const candidates = Array.from({ length: last - first + 1 }, (_, i) => String(first + i));
  let running: Set<number> | undefined;
  const uid = await reserveOne(config.stateDir, guestUidKind, jobId, candidates, async (c) => {
    running ??= uidsOfProcesses();
    if (running.has(Number(c))) return false;
    const user = await runTool(['getent', 'passwd', c], { okExitCodes: [2] });
    return user.exitCode === 2;
  });
  const gid = await group;
  if (uid === undefined) throw new VmbatchError('GUEST_UIDS_EXHAUSTED', { first, last });
  return { uid: Number(uid), gid };
}

/** Releases the job's uid (idempotent); only once its guest is destroyed and its files are removed. */
export function releaseGuestIdentity(stateDir: string, jobId: string): void {
  releaseAll(stateDir, guestUidKind, jobId);
}

// Every real, effective, saved or filesystem uid a process of this node runs with.
function uidsOfProcesses(): Set<number> {
  const uids = new Set<number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const line = /^Uid:\s+(.*)$/m.exec(status)?.[1];
    for (const uid of line?.split(/\s+/) ?? []) uids.add(Number(uid));
  }
  return uids;
}
