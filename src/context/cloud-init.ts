import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { guestScript, rteTarName, type IsoFile, type IsoLayout } from './iso-layout.js';
import { renderGuestEnv, type GuestParams } from './guest-params.js';
import type { SshKeyPair } from './keys.js';
import type { TarPlan } from './tar-plan.js';
import type { StaticAddress } from '../network/address-pool.js';
import { shellQuote } from '../shell/quote.js';
import { sshChannelMarker } from './ssh-channel-marker.js';

/** Where shipped tar files are written in a cloud-init guest before they are unpacked. */
const guestTarDir = '/var/lib/vmbatch/tar';

/** The guest's SSH channel device (udev names virtio-serial ports by their name). */
const sshChannelDevice = '/dev/virtio-ports/org.vmbatch.ssh';

/**
 * The systemd unit that serves SSH on the channel: `sshd -i` handles one connection on its
 * standard input and output (the port opened once, read-write: it may be open only once at a
 * time); it writes its version first, which blocks until a host client is connected, and is
 * started again after every connection.
 */
export const sshChannelUnit = [
  '[Unit]',
  'Description=vmbatch: SSH on the virtio-serial port org.vmbatch.ssh',
  'StartLimitIntervalSec=0',
  '',
  '[Service]',
  'ExecStartPre=/bin/mkdir -p /run/sshd',
  // the marker line first (it blocks until the host connects), then one sshd session on the port
  `ExecStart=/bin/sh -c 'exec <>${sshChannelDevice} >&0; echo ${sshChannelMarker}; exec /usr/sbin/sshd -i -e'`,
  'Restart=always',
  'RestartSec=200ms',
  '',
].join('\n');

/**
 * Lays out a cloud-init NoCloud seed (volume `cidata`): `user-data` creates the group and the
 * user with the host's ids and the per-job authorised key, installs the per-job host key,
 * serves SSH on the virtio-serial port org.vmbatch.ssh (a systemd unit running `sshd -i`),
 * writes the job script and the shipped tar files, unpacks those, and reports readiness on the
 * console; `meta-data` gives the job its own instance-id (so cloud-init runs again for every
 * job on a reused image); `network-config` (version 2) sets a static address when there is one.
 * Every document is JSON, which YAML reads as it is: nothing here needs a YAML emitter.
 */
export function planCloudInitIso(input: {
  params: GuestParams;
  jobScript: string;
  userKey: SshKeyPair;
  hostKey: SshKeyPair;
  tarFiles: TarPlan[];
  staticAddress: StaticAddress | undefined;
  /** the job's RTE tarballs (cache files): shipped on the seed volume with rte-install.sh */
  rteTars?: string[];
  /** root's commands that mount the shared directories and make the staged one (guestShareCommands) */
  shareCommands?: string[];
}): IsoLayout {
  const { params: p } = input;
  const shipped = input.tarFiles.filter((t) => t.where === 'guest');
  const owner = `${p.VB_USER}:${p.VB_GROUP}`;
  const userData = {
    // the group first, with the host's gid: cloud-init's users module cannot set a gid
    // and a guest-private login home's parent (useradd makes the home itself)
    bootcmd: [
      ['sh', '-c', `getent group ${shellQuote(p.VB_GROUP)} >/dev/null || groupadd -g ${p.VB_GID} ${shellQuote(p.VB_GROUP)}`],
      ...(p.VB_LOGIN_HOME !== undefined && p.VB_LOGIN_HOME !== p.VB_HOME ? [['mkdir', '-p', posix.dirname(p.VB_LOGIN_HOME)]] : []),
    ],
    users: [
      {
        name: p.VB_USER,
        uid: p.VB_UID,
        primary_group: p.VB_GROUP,
        no_user_group: true,
        // the per-job key's home: the host home, or a guest-private one when a share covers it
        homedir: p.VB_LOGIN_HOME ?? p.VB_HOME,
        shell: p.VB_SHELL,
        lock_passwd: true,
        ssh_authorized_keys: [input.userKey.publicKey],
      },
    ],
    ssh_deletekeys: true,
    // the per-job ed25519 key is given; no other host key types are made
    ssh_genkeytypes: ['ed25519'],
    ssh_keys: { ed25519_private: input.hostKey.privateKey, ed25519_public: input.hostKey.publicKey },
    write_files: [
      { path: '/etc/systemd/system/vmbatch-ssh-channel.service', content: sshChannelUnit, permissions: '0644' },
      { path: `${p.VB_JOBPATH}/${p.VB_JOBFILE}`, encoding: 'b64', content: Buffer.from(input.jobScript).toString('base64'), owner, permissions: '0500', defer: true },
      ...shipped.map((t, i) => ({ path: `${guestTarDir}/${i + 1}.tar`, encoding: 'b64', content: readFileSync(t.file).toString('base64'), permissions: '0600' })),
    ],
    // one script: a failed step reports VMBATCH-FAILED instead of a ready line, and the ready
    // line follows the start of the SSH channel's service
    runcmd: [['sh', '-c', finalScript(p, shipped, input.shareCommands ?? [])]],
  };
  const rtes = p.VB_RTES
    ? [
        { path: 'rte-install.sh', mode: 0o755, content: guestScript('rte-install.sh') },
        { path: 'vmbatch.env', mode: 0o644, content: renderGuestEnv(p), secret: true },
      ]
    : [];
  const files: IsoFile[] = [
    ...rtes,
    { path: 'user-data', mode: 0o644, content: `#cloud-config\n${JSON.stringify(userData, null, 2)}\n`, secret: true },
    { path: 'meta-data', mode: 0o644, content: JSON.stringify({ 'instance-id': `vmbatch-${p.VB_JOBID}-${p.VB_NONCE.slice(0, 8)}`, 'local-hostname': 'vmbatch-guest' }, null, 2) + '\n' },
  ];
  if (input.staticAddress) files.push({ path: 'network-config', mode: 0o644, content: JSON.stringify(networkConfig(input.staticAddress), null, 2) + '\n', secret: false });
  const copies = (input.rteTars ?? []).map((source, i) => ({ path: rteTarName(i), source }));
  return { volumeId: 'cidata', files, copies, unpack: input.tarFiles.filter((t) => t.where === 'cdrom').map((t) => ({ source: t.file, dir: t.path, strip: t.strip })) };
}

/** network-config version 2: the static address on the first Ethernet interface. */
export function networkConfig(a: StaticAddress): Record<string, unknown> {
  return {
    version: 2,
    ethernets: {
      vmbatch0: {
        match: { name: 'e*' },
        addresses: [`${a.address}/${a.prefixLength}`],
        ...(a.gateway ? { routes: [{ to: '0.0.0.0/0', via: a.gateway }] } : {}),
        ...(a.dns.length ? { nameservers: { addresses: a.dns } } : {}),
      },
    },
  };
}

function finalScript(p: GuestParams, shipped: TarPlan[], shareCommands: string[]): string {
  const console = shellQuote(p.VB_READY_CONSOLE);
  return [
    `fail() { printf 'VMBATCH-FAILED %s %s\\n' ${p.VB_NONCE} "$1" > ${console}; exit 1; }`,
    guestRootCommand(p),
    ...shipped.map((t, i) => `{ ${unpackCommand(t, `${guestTarDir}/${i + 1}.tar`, p)}; } || fail ${shellQuote(`unpacking tar file ${i + 1} into ${t.path} failed`)}`),
    // the shares after the tar files (which go to the login home), before the runtime environments, as prolog.sh does
    ...shareCommands,
    // runtime environments: the seed volume carries rte-install.sh, vmbatch.env and the tarballs
    ...(p.VB_RTES
      ? [
          'ctx=/run/vmbatch-context; mkdir -p $ctx',
          `mount -o ro "$(blkid -L cidata)" $ctx || fail 'cannot mount the cidata volume for the runtime environments'`,
          `out=$(sh $ctx/rte-install.sh $ctx 2>&1) || { umount $ctx; fail "$(printf '%s\\n' "$out" | tail -n 1)"; }`,
          'umount $ctx',
        ]
      : []),
    `[ -c ${sshChannelDevice} ] || fail 'no virtio-serial port org.vmbatch.ssh: the template needs <vbsshchannel/>'`,
    "systemctl daemon-reload && systemctl start vmbatch-ssh-channel.service || fail 'the SSH channel service did not start'",
    `addr=$(ip -4 addr show | sed -n 's/.*inet \\([0-9.]*\\)\\/.*/\\1/p' | grep -v '^127\\.' | head -n 1)`,
    `printf 'VMBATCH-READY %s %s ip=%s\\n' ${p.VB_NONCE} "$(hostname)" "\${addr:-none}" > ${console}`,
  ].join('\n');
}

// As prolog.sh: root for the user by sudo (vbroot=yes), else no grant an earlier job left on the
// disk (a saved layer): the user's numeric id, so no name is read as a sudoers keyword
function guestRootCommand(p: GuestParams): string {
  const file = '/etc/sudoers.d/vmbatch-root';
  if (p.VB_ROOT !== 'yes') return `rm -f ${file}`;
  return `{ command -v sudo >/dev/null && mkdir -p /etc/sudoers.d && printf '#%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' ${p.VB_UID} > ${file} && chmod 0440 ${file}; } || fail 'vbroot=yes: cannot give the user root (the guest needs sudo)'`;
}

// The same rule as prolog.sh: relative paths are below the user's login home and belong to the user.
function unpackCommand(t: TarPlan, file: string, p: GuestParams): string {
  const dest = t.path.startsWith('/') ? t.path : `${p.VB_LOGIN_HOME ?? p.VB_HOME}/${t.path}`;
  const own = t.path.startsWith('/') ? '' : ` && chown -R ${p.VB_UID}:${p.VB_GID} ${shellQuote(dest)}`;
  return `mkdir -p ${shellQuote(dest)} && tar -x ${t.gzip ? '-z ' : ''}-o -f ${file} -C ${shellQuote(dest)} --strip-components ${t.strip}${own} && rm -f ${file}`;
}
