import { connect, type Socket } from 'node:net';
import type ssh2 from 'ssh2';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { publicKeyBlob } from '../context/keys.js';
import { openSshChannel } from './ssh-channel.js';
import { loadSsh2 } from './load-ssh2.js';

type Client = ssh2.Client;

/** Where and as whom to reach a job's guest. */
export interface GuestEndpoint {
  /** the job's SSH channel: a unix socket (the guest's virtio-serial port org.vmbatch.ssh) */
  socket: string;
  user: string;
  privateKey: string;
  /** the guest's per-job host key (OpenSSH public line), or the site's guest host keys: the only keys accepted */
  hostPublicKey: string | string[];
  /** the socket is a plain SSH server (the job's session multiplexer), not the guest's channel with its marker line */
  plain?: boolean;
}

/** How an endpoint is named in messages: user@socket. */
export function endpointName(endpoint: Pick<GuestEndpoint, 'socket' | 'user'>): string {
  return `${endpoint.user}@${endpoint.socket}`;
}

/**
 * Connects to the guest over its SSH channel (a unix socket, so the file's owner and mode
 * decide who may connect), verifying its host key against the per-job key (no trust on first use).
 */
export async function connectGuest(endpoint: GuestEndpoint, timeoutMs = 30_000): Promise<Client> {
  const expected = [endpoint.hostPublicKey].flat().map(publicKeyBlob);
  const target = endpointName(endpoint);
  const deadline = Date.now() + timeoutMs;
  const sock = await (endpoint.plain ? connectPlain(endpoint.socket, timeoutMs) : openSshChannel(endpoint.socket, timeoutMs)).catch((error: Error) => {
    throw new VmbatchError('SSH_FAILED', { target, reason: error.message });
  });
  const { Client } = await loadSsh2();
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyRejected = false;
    // ssh2 may emit more than one 'error' (a timeout, then the lost connection): the first
    // decides, the others must not crash the hook as unhandled events
    let settled = false;
    client
      .once('ready', () => {
        settled = true;
        resolve(client);
      })
      .on('error', (error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(
          new VmbatchError('SSH_FAILED', {
            target,
            reason: hostKeyRejected ? `the guest presented a host key that is not ${Array.isArray(endpoint.hostPublicKey) ? 'one the site lists' : "this job's"}` : error.message,
          }),
        );
      })
      .connect({
        sock,
        username: endpoint.user,
        privateKey: endpoint.privateKey,
        readyTimeout: Math.max(1000, deadline - Date.now()),
        hostVerifier: (key: Buffer) => {
          hostKeyRejected = !expected.some((e) => key.equals(e));
          return !hostKeyRejected;
        },
      });
  });
}

// A plain unix socket connection (no marker line to wait for), bounded in time.
function connectPlain(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Exit status of a finished channel, as a shell reports it (128 + signal number for a signal). */
export function channelExitStatus(code: number | null | undefined, signal: string | undefined): number {
  if (typeof code === 'number') return code;
  const signals: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };
  return signal && signals[signal.replace(/^SIG/, '')] ? 128 + signals[signal.replace(/^SIG/, '')]! : 255;
}

/** How a command on the guest ended: its exit status, or lost (the session closed without one: 255). */
export interface GuestRun {
  status: number;
  /** the session ended without an exit status or signal: the guest or its SSH server went away */
  lost: boolean;
}

/** Runs a command on the connected guest, streaming output; resolves with how it ended. */
export function runOnGuest(
  client: Client,
  command: string,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream; pty?: { term: string; rows: number; cols: number } },
): Promise<GuestRun> {
  return new Promise((resolve, reject) => {
    const options = io.pty ? { pty: { term: io.pty.term, rows: io.pty.rows, cols: io.pty.cols } } : {};
    client.exec(command, options, (error, channel) => {
      if (error) return reject(error);
      let code: number | null | undefined;
      let signal: string | undefined;
      let exited = false;
      channel.on('exit', (c: number | null, s?: string) => {
        exited = true;
        code = c;
        signal = s;
      });
      channel.pipe(io.stdout, { end: false });
      channel.stderr.pipe(io.stderr, { end: false });
      if (io.stdin) io.stdin.pipe(channel);
      else channel.end();
      channel.on('close', () => resolve({ status: channelExitStatus(code, signal), lost: !exited }));
    });
  });
}
