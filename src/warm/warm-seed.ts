import { guestScript, type IsoLayout } from '../context/iso-layout.js';

const agentPath = '/var/lib/vmbatch/warm-agent.sh';

/**
 * The cloud-init seed a warm build boots a cloud-init template with: nothing of any job, no SSH
 * host key (every copy gets the job's after the restore), and the warm-start agent started in a
 * systemd unit of its own, which outlives cloud-init's final stage and keeps what the job's
 * prolog.sh starts (the SSH channel) running.
 */
export function planWarmSeed(input: { nonce: string; key: string }): IsoLayout {
  const userData = {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    write_files: [{ path: agentPath, content: guestScript('warm-agent.sh'), permissions: '0755' }],
    runcmd: [['systemd-run', '--unit=vmbatch-warm-agent', '--remain-after-exit', '-p', 'KillMode=process', '/bin/sh', agentPath, input.nonce]],
  };
  return {
    volumeId: 'cidata',
    files: [
      { path: 'user-data', mode: 0o644, content: `#cloud-config\n${JSON.stringify(userData, null, 2)}\n` },
      { path: 'meta-data', mode: 0o644, content: `${JSON.stringify({ 'instance-id': `vmbatch-warm-${input.key.slice(0, 16)}`, 'local-hostname': 'vmbatch-guest' }, null, 2)}\n` },
    ],
    copies: [],
    unpack: [],
  };
}
