import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { handOverSockets, handOverToGuest } from '../identity/guest-files.js';
import { cleanVirshError, virsh } from '../hypervisor/virsh.js';
import { domainNameFor } from '../job/names.js';
import type { WaitingGuest } from './pool-guest.js';

/**
 * Gives a waiting guest the job a prologue took it for: the job's context ISO (readable by that
 * guest's qemu alone) goes into its empty CD-ROM drive, its sockets become the submitter's, and
 * it resumes; the guest's agent finds the context and runs the job's prolog.sh. A failure is
 * WARM_RESTORE_FAILED (the prologue then starts the job without the pool).
 */
export async function handPoolGuestToJob(input: { uri: string; guest: WaitingGuest; isoFile: string; submitter: { uid: number; gid: number }; sockets: string[] }): Promise<void> {
  const { guest } = input;
  const domain = domainNameFor(guest.id);
  try {
    handOverToGuest([{ file: input.isoFile, mode: 0o400 }], { uid: guest.record.uid, gid: guest.record.gid });
    handOverSockets(input.sockets, input.submitter);
    // both at once (each virsh is a process and a connection, ~70 ms; libvirt orders the two
    // jobs on the domain): the drive is opened and closed by force, without the guest's help, and
    // a guest resumed first finds its context at its next look at the drive (every 20 ms)
    const steps = [
      ['change-media', domain, guest.record.cdromTarget, input.isoFile, '--insert', '--live'],
      ['resume', domain],
    ].map((args) => virsh(input.uri, args));
    for (const step of steps) step.catch(() => undefined);
    for (const step of steps) await step;
  } catch (error) {
    if (isVmbatchError(error, 'TOOL_FAILED'))
      throw new VmbatchError('WARM_RESTORE_FAILED', { domain, reason: cleanVirshError(error.params.stderr) || `virsh exited with ${error.params.exitCode}` }, { cause: error });
    throw error;
  }
}
