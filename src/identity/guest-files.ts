import { chmodSync, chownSync, closeSync, constants, existsSync, fchmodSync, fchownSync, openSync } from 'node:fs';
import type { ProloguePlan } from '../plan/prologue-plan.js';
import type { GuestIdentity } from './guest-identity.js';

/** A per-job file the job's qemu opens, and the mode it gets once it is the guest's. */
export interface GuestFile {
  file: string;
  mode: number;
}

/**
 * The job's own files its qemu opens: overlays, per-job downloads, disks created for the job
 * alone, the context ISO. Shared inputs (cache entries, created 'once' disks, the admin's base
 * images, kernels, initrds, RTE images) are not among them: they stay root's, read-only to guests.
 */
export function guestFilesOf(plan: Pick<ProloguePlan, 'disks' | 'method'>): GuestFile[] {
  return plan.disks.flatMap((d): GuestFile[] => {
    if (d.kind === 'context') return plan.method === 'CDROM' ? [{ file: d.file, mode: 0o400 }] : [];
    const perJob = d.access === 'overlay' || d.base.kind === 'download' || (d.base.kind === 'empty' && d.base.once === undefined);
    return perJob ? [{ file: d.file, mode: 0o600 }] : [];
  });
}

/**
 * Gives the files to the job's qemu identity (UID:GID, the mode given). Called only once every
 * root tool is done with them: from here on the guest may rewrite them, so root must not open
 * them with a tool again (a created 'once' disk's seed overlay is checked before its commit).
 */
export function handOverToGuest(files: GuestFile[], identity: GuestIdentity): void {
  for (const { file, mode } of files) {
    // the job directory is root's, but never follow a link in place of a file vmbatch made
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      fchownSync(fd, identity.uid, identity.gid);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  }
}

/** Gives the sockets qemu made (those that exist) to `owner`, mode 0600: root's while a guest waits, the submitter's once a job has it. */
export function handOverSockets(sockets: string[], owner: { uid: number; gid: number }): void {
  for (const socket of sockets) {
    if (!existsSync(socket)) continue;
    chownSync(socket, owner.uid, owner.gid);
    chmodSync(socket, 0o600);
  }
}
