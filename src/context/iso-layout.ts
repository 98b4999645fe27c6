import { readFileSync } from 'node:fs';
import type { SshKeyPair } from './keys.js';
import { renderGuestEnv, type GuestParams } from './guest-params.js';

/** One file of the context volume: its path inside the volume, mode and content. */
export interface IsoFile {
  path: string;
  mode: number;
  content: string;
  /** a secret: never printed by a dry run */
  secret?: boolean;
}

/** The context volume as a plain value: volume id and files. */
export interface IsoLayout {
  volumeId: string;
  files: IsoFile[];
}

const guestScript = (name: string) => readFileSync(new URL(`./guest/${name}`, import.meta.url), 'utf8');

/**
 * Lays out the CDROM context volume: the guest init scripts, the parameters (shell and JSON),
 * the job script, the key the guest authorises for the user, and the guest's per-job host key.
 */
export function planContextIso(input: {
  params: GuestParams;
  jobScript: string;
  userKey: SshKeyPair;
  hostKey: SshKeyPair;
}): IsoLayout {
  const { params } = input;
  return {
    volumeId: 'VMBATCH',
    files: [
      { path: 'prolog.sh', mode: 0o755, content: guestScript('prolog.sh') },
      { path: 'epilog.sh', mode: 0o755, content: guestScript('epilog.sh') },
      { path: 'vmbatch.env', mode: 0o644, content: renderGuestEnv(params) },
      { path: 'vmbatch.json', mode: 0o644, content: JSON.stringify(params, null, 2) + '\n' },
      { path: `job/${params.VB_JOBFILE}`, mode: 0o700, content: input.jobScript },
      { path: 'ssh/authorized_keys', mode: 0o644, content: input.userKey.publicKey + '\n' },
      { path: 'ssh/ssh_host_ed25519_key', mode: 0o600, content: input.hostKey.privateKey, secret: true },
      { path: 'ssh/ssh_host_ed25519_key.pub', mode: 0o644, content: input.hostKey.publicKey + '\n' },
    ],
  };
}
