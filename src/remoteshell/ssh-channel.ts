import { connect, type Socket } from 'node:net';
import { sshChannelMarker } from '../context/ssh-channel-marker.js';

const marker = Buffer.from(sshChannelMarker);

/**
 * Opens a job's SSH channel (the unix socket of the guest's virtio-serial port) and resolves
 * once the guest has started a fresh session on it: everything before the marker line is
 * dropped. A virtio-serial port is one stream across connections: the last bytes of the
 * previous session (a root login, an earlier job step) can still be queued in the guest and
 * arrive first, and SSH would take them for the new server's packets. Nothing is sent before
 * the marker, so none of this session's bytes reach a server that is still going away.
 */
export function openSshChannel(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    // the stream so far, cut to what could still hold the marker and its line's end
    let seen = Buffer.alloc(0);
    let markerAt = -1;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', finish);
      socket.removeListener('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      }
    };
    const onClose = () => finish(new Error('the guest closed its SSH channel before it began a session'));
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (markerAt === -1) {
        markerAt = seen.indexOf(marker);
        if (markerAt === -1) {
          // stale bytes of an earlier session: keep only a tail that could begin the marker
          seen = seen.subarray(Math.max(0, seen.length - marker.length));
          return;
        }
      }
      const end = seen.indexOf(0x0a, markerAt + marker.length);
      if (end === -1) return;
      finish();
      socket.pause();
      const rest = seen.subarray(end + 1);
      if (rest.length) socket.unshift(rest);
      resolve(socket);
    };
    const timer = setTimeout(
      () => finish(new Error(`no SSH session began on the channel within ${(timeoutMs / 1000).toFixed(1)} s (a guest writes '${sshChannelMarker}' before each one)`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('error', finish);
    socket.once('close', onClose);
  });
}
