import { connect } from 'node:net';
import { VmbatchError } from '../errors/vmbatch-error.js';

/** What remoteshell can tell of a guest whose session ended without an exit status. */
export type GuestLoss = 'stopped' | 'session-broken';

/**
 * Tells a guest that stopped from a session that broke in a guest that still runs: qemu holds
 * the listening end of the job's SSH channel, so once qemu is gone a connection is refused. A
 * qemu that is dying may still accept for a moment and then drops the connection; a live guest
 * keeps it and starts a session on it (its marker line), a hung one keeps it silently.
 */
export function probeGuest(socket: string, timeoutMs = 2000): Promise<GuestLoss> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    const done = (loss: GuestLoss) => {
      clearTimeout(timer);
      probe.destroy();
      resolve(loss);
    };
    const timer = setTimeout(() => done('session-broken'), timeoutMs);
    probe.once('data', () => done('session-broken'));
    probe.once('error', () => done('stopped'));
    probe.once('close', () => done('stopped'));
  });
}

/** The GUEST_LOST error for a job whose session ended without an exit status, saying which way it was lost. */
export async function lostGuestError(input: { jobId: string; domain: string; socket: string }): Promise<VmbatchError<'GUEST_LOST'>> {
  const loss = await probeGuest(input.socket);
  const what =
    loss === 'stopped'
      ? 'the guest stopped (qemu is gone: its SSH channel refuses connections)'
      : "the SSH session ended without an exit status while the guest still runs (its SSH server or the job's shell was killed, e.g. by the guest's out-of-memory killer)";
  return new VmbatchError('GUEST_LOST', { jobId: input.jobId, domain: input.domain, what });
}
