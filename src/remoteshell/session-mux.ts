import { chmodSync, chownSync, rmSync, writeSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type ssh2 from 'ssh2';
import { connectGuest } from './ssh-session.js';
import { loadSsh2 } from './load-ssh2.js';

type Client = Awaited<ReturnType<typeof connectGuest>>;

/** What a session multiplexer serves: the job's guest channel, and the socket its tasks connect to. */
export interface SessionMuxSetup {
  /** the guest's SSH channel (ssh.sock), held by the multiplexer for the job's whole life */
  guestSocket: string;
  /** where the job's tasks connect: made here, the submitter's, mode 0600 */
  listenSocket: string;
  user: string;
  uid: number;
  gid: number;
  /** the job's per-job key: the guest's login, and the only key a task may present here */
  userPrivateKey: string;
  guestHostPublicKey: string;
  /** this multiplexer's host key (its public half is in the job state, so tasks verify it) */
  muxHostPrivateKey: string;
}

/**
 * Many sessions over the guest's one SSH channel (a virtio-serial port carries one byte stream,
 * so one connection): holds that connection and serves SSH on a unix socket of the submitter's,
 * opening a channel on the guest's connection for each session a task asks for (exec with its
 * terminal, window changes, signals, exit status). Slurm jobs need it: the batch script and
 * srun steps run at once. Binds as root, then runs as the submitter (before it talks to the
 * guest): it can do nothing they cannot. Says `ready` on fd 3; ends when the guest's connection ends.
 */
export async function runSessionMux(setup: SessionMuxSetup): Promise<void> {
  const { Server, utils } = await loadSsh2();
  const allowed = utils.parseKey(setup.userPrivateKey);
  if (allowed instanceof Error) throw allowed;
  const allowedBlob = allowed.getPublicSSH();
  let guest: Client | undefined;
  const server = new Server({ hostKeys: [setup.muxHostPrivateKey] }, (client) => {
    client.on('authentication', (ctx) => {
      // only the job's key, proven by its signature, and only as the submitter
      if (ctx.method !== 'publickey' || ctx.username !== setup.user || !sameBytes(ctx.key.data, allowedBlob)) return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept();
      return allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject(['publickey']);
    });
    client.on('ready', () => client.on('session', (acceptSession) => guest && serveSession(guest, acceptSession())));
    // a task that went away mid-handshake is no fault of the multiplexer's
    client.on('error', () => client.end());
  });
  rmSync(setup.listenSocket, { force: true });
  await listen(server, setup.listenSocket);
  chownSync(setup.listenSocket, setup.uid, setup.gid);
  chmodSync(setup.listenSocket, 0o600);
  // everything that needs root is done: the guest (which its submitter controls, root included)
  // talks only to a process with the submitter's own rights
  process.setgroups?.([setup.gid]);
  process.setgid?.(setup.gid);
  process.setuid?.(setup.uid);
  const connected = await connectGuest({ socket: setup.guestSocket, user: setup.user, privateKey: setup.userPrivateKey, hostPublicKey: setup.guestHostPublicKey });
  guest = connected;
  connected.on('close', () => process.exit(0));
  connected.on('error', () => process.exit(0));
  try {
    writeSync(3, 'ready\n');
  } catch {
    // started by hand: nobody waits for the line
  }
}

// One task's session: its terminal request, then its command on a channel of the guest's connection.
function serveSession(guest: Client, session: ssh2.Session): void {
  let pty: ssh2.PseudoTtyInfo | undefined;
  let upstream: ssh2.ClientChannel | undefined;
  session.on('pty', (accept, _reject, info) => {
    pty = info;
    accept?.();
  });
  session.on('env', (accept) => accept?.());
  session.on('window-change', (accept, _reject, info) => {
    upstream?.setWindow(info.rows, info.cols, info.height, info.width);
    accept?.();
  });
  session.on('signal', (accept, _reject, info) => {
    upstream?.signal(info.name);
    accept?.();
  });
  session.on('exec', (accept, reject, info) => {
    const options = pty ? { pty: { term: pty.term, rows: pty.rows, cols: pty.cols, width: pty.width, height: pty.height, modes: pty.modes } } : {};
    guest.exec(info.command, options, (error, channel) => {
      if (error) return reject?.();
      upstream = channel;
      const stream = accept();
      let exit: { code?: number; signal?: string } | undefined;
      channel.on('exit', (code: number | null, signal?: string) => {
        exit = typeof code === 'number' ? { code } : { signal: signal?.replace(/^SIG/, '') ?? 'KILL' };
      });
      channel.pipe(stream, { end: false });
      channel.stderr.pipe(stream.stderr, { end: false });
      stream.pipe(channel);
      channel.on('close', () => {
        // without an exit status the task sees the session lost, as it would talking to the guest
        if (exit?.code !== undefined) stream.exit(exit.code);
        else if (exit?.signal) stream.exit(exit.signal, false, '');
        stream.end();
        stream.close();
      });
      stream.on('close', () => channel.close());
    });
  });
}

// Constant-time comparison of two key blobs.
function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Listens on a unix socket.
function listen(server: ssh2.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}
