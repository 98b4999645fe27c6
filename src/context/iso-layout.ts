import { readFileSync } from 'node:fs';
import type { SshKeyPair } from './keys.js';
import { renderGuestEnv, type GuestParams } from './guest-params.js';
import type { TarPlan } from './tar-plan.js';

/** One file of the context volume: its path inside the volume, mode and content. */
export interface IsoFile {
  path: string;
  mode: number;
  content: string;
  /** a secret: never printed by a dry run */
  secret?: boolean;
}

/** The context volume as a plain value: volume id, files, host files copied in, archives unpacked onto it. */
export interface IsoLayout {
  volumeId: string;
  files: IsoFile[];
  /** host files copied onto the volume as they are (tar files the guest unpacks) */
  copies: { path: string; source: string }[];
  /** archives the host unpacks onto the volume (<vbtarfile option='cdrom'>), already checked */
  unpack: { source: string; dir: string; strip: number }[];
}

/** A guest-side script shipped with vmbatch (src/context/guest/NAME). */
export const guestScript = (name: string) => readFileSync(new URL(`./guest/${name}`, import.meta.url), 'utf8');

/**
 * Lays out the CDROM context volume: the guest init scripts, the parameters (shell and JSON),
 * the job script, the key the guest authorises for the user, and the guest's per-job host key.
 */
export function planContextIso(input: {
  params: GuestParams;
  jobScript: string;
  userKey: SshKeyPair;
  hostKey: SshKeyPair;
  tarFiles?: TarPlan[];
  /** the job's RTE tarballs (cache files), shipped as rte/N.tar */
  rteTars?: string[];
}): IsoLayout {
  const { params } = input;
  const tarFiles = input.tarFiles ?? [];
  const shipped = tarFiles.filter((t) => t.where === 'guest');
  const rteTars = input.rteTars ?? [];
  return {
    volumeId: 'VMBATCH',
    copies: [...shipped.map((t, i) => ({ path: guestTarName(i), source: t.file })), ...rteTars.map((source, i) => ({ path: rteTarName(i), source }))],
    unpack: tarFiles.filter((t) => t.where === 'cdrom').map((t) => ({ source: t.file, dir: t.path, strip: t.strip })),
    files: [
      { path: 'prolog.sh', mode: 0o755, content: guestScript('prolog.sh') },
      { path: 'epilog.sh', mode: 0o755, content: guestScript('epilog.sh') },
      ...(rteTars.length || params.VB_RTES ? [{ path: 'rte-install.sh', mode: 0o755, content: guestScript('rte-install.sh') }] : []),
      { path: 'vmbatch.env', mode: 0o644, content: renderGuestEnv(params) },
      { path: 'vmbatch.json', mode: 0o644, content: JSON.stringify(params, null, 2) + '\n' },
      { path: `job/${params.VB_JOBFILE}`, mode: 0o700, content: input.jobScript },
      { path: 'ssh/authorized_keys', mode: 0o644, content: input.userKey.publicKey + '\n' },
      { path: 'ssh/ssh_host_ed25519_key', mode: 0o600, content: input.hostKey.privateKey, secret: true },
      { path: 'ssh/ssh_host_ed25519_key.pub', mode: 0o644, content: input.hostKey.publicKey + '\n' },
    ],
  };
}

/** Where the n-th shipped tar file lies on the context volume. */
export function guestTarName(index: number): string {
  return `tar/${index + 1}.tar`;
}

/** Where the n-th RTE tarball lies on the context volume. */
export function rteTarName(index: number): string {
  return `rte/${index + 1}.tar`;
}

/** The VB_TARFILES value: one line per shipped archive, `FILE<TAB>STRIP<TAB>GZIP(z|-)<TAB>PATH`. */
export function guestTarList(tarFiles: TarPlan[]): string {
  return tarFiles
    .filter((t) => t.where === 'guest')
    .map((t, i) => [guestTarName(i), t.strip, t.gzip ? 'z' : '-', t.path].join('\t'))
    .join('\n');
}
