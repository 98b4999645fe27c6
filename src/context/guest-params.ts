import { z } from 'zod';
import { shellAssignments } from '../shell/quote.js';
import type { StaticAddress } from '../network/address-pool.js';

/** The parameters the guest-side prolog.sh reads (vmbatch.env / vmbatch.json on the context volume). */
export const guestParamsSchema = z.object({
  VB_NONCE: z.string().regex(/^[0-9a-f]{32}$/),
  VB_JOBID: z.string(),
  VB_JOBNAME: z.string(),
  VB_USER: z.string(),
  VB_GROUP: z.string(),
  VB_UID: z.number().int(),
  VB_GID: z.number().int(),
  /** the submitter's home on the node: the job's HOME in the guest */
  VB_HOME: z.string(),
  /** the home in the guest's passwd, holding the per-job SSH key: VB_HOME, or a guest-private one when a share covers VB_HOME */
  VB_LOGIN_HOME: z.string().optional(),
  VB_SHELL: z.string(),
  VB_JOBPATH: z.string(),
  VB_JOBFILE: z.string(),
  VB_READY_CONSOLE: z.string(),
  /** shipped tar files, one per line: FILE<TAB>STRIP<TAB>z|-<TAB>PATH (empty: none) */
  VB_TARFILES: z.string().default(''),
  /** runtime environments in install order, one per line: KIND<TAB>NAME<TAB>DIR<TAB>BASEDIR<TAB>SOURCE<TAB>MOUNT (rte-install.sh) */
  VB_RTES: z.string().default(''),
  /** 'dhcp', or 'static' with the address (CIDR), gateway and name servers (space-separated) */
  VB_NET_MODE: z.enum(['dhcp', 'static']).default('dhcp'),
  VB_NET_ADDRESS: z.string().default(''),
  VB_NET_GATEWAY: z.string().default(''),
  VB_NET_DNS: z.string().default(''),
  /** host directories to mount over virtiofs, parents first, one per line: TAG<TAB>ro|rw<TAB>PATH (empty: none) */
  VB_SHARES: z.string().default(''),
  /** the staged working directory: made for the user before the job's files are copied in ('' = none) */
  VB_STAGE_DIR: z.string().default(''),
  /** console remoteshell: the serial device the guest logs the user in on ('' = none) */
  VB_CONSOLE_LOGIN: z.string().default(''),
  /** yes: the user may be root in the guest (sudo without a password; vbroot=yes, where the site allows it) */
  VB_ROOT: z.enum(['yes', 'no']).default('no'),
  /** warm start only: a copy restored from a saved state makes itself a machine of its own with these: a seed for the kernel's random generator, a machine-id, the host's clock (epoch seconds) */
  VB_SEED: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  VB_MACHINE_ID: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  VB_CLOCK: z.number().int().optional(),
});
/** Guest parameters. */
export type GuestParams = z.input<typeof guestParamsSchema>;

/** The shell-safe form, sourced by prolog.sh: every value single-quoted. */
export function renderGuestEnv(params: GuestParams): string {
  return '# vmbatch guest parameters (generated; sourced by prolog.sh)\n' + shellAssignments(guestParamsSchema.parse(params));
}

/** The network parameters of a guest: DHCP, or its static address from the node's pool. */
export function networkParams(a: StaticAddress | undefined): Pick<GuestParams, 'VB_NET_MODE' | 'VB_NET_ADDRESS' | 'VB_NET_GATEWAY' | 'VB_NET_DNS'> {
  if (!a) return { VB_NET_MODE: 'dhcp', VB_NET_ADDRESS: '', VB_NET_GATEWAY: '', VB_NET_DNS: '' };
  return { VB_NET_MODE: 'static', VB_NET_ADDRESS: `${a.address}/${a.prefixLength}`, VB_NET_GATEWAY: a.gateway ?? '', VB_NET_DNS: a.dns.join(' ') };
}
