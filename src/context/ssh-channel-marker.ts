/**
 * The line a guest writes on its SSH channel (the virtio-serial port org.vmbatch.ssh) before
 * each SSH session; the host starts SSH after it (docs/guest-contract.md, "The SSH channel").
 */
export const sshChannelMarker = 'vmbatch-ssh-channel';
