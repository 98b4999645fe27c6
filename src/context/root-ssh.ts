import { createReadStream, readFileSync } from 'node:fs';
import ssh2, { type Client } from 'ssh2';
import { PassThrough } from 'node:stream';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { connectGuest, endpointName, runOnGuest } from '../remoteshell/ssh-session.js';
import { printableTail } from '../log/printable-tail.js';

/** Where the context files are unpacked in the guest before prolog.sh runs from them. */
const guestContextDir = '/run/vmbatch-context';

/** How the host logs in to a booting guest as root (ROOTSSH). */
export interface RootSshLogin {
  /** the job's SSH channel (a unix socket) */
  socket: string;
  user: string;
  privateKeyFile: string;
  /** OpenSSH public key lines the guest may present */
  hostKeysFile: string;
}

/**
 * ROOTSSH contextualization: logs in to the booting guest as root with the site's key (its
 * host key must be one the site lists), sends the context files as a tar archive and runs
 * prolog.sh from them, exactly as a CDROM guest runs it from its volume. The guest's SSH
 * server comes up some time into the boot: refused or reset connections are retried until
 * `deadline`; a host key the site does not list is refused at once.
 */
export async function prepareOverRootSsh(login: RootSshLogin, input: { contextTar: string; domain: string; deadline: number }): Promise<void> {
  const target = endpointName(login);
  const started = Date.now();
  const { privateKey, hostKeys } = readRootSshKeys(login);
  let lastReason = 'no attempt was made';
  for (;;) {
    const left = input.deadline - Date.now();
    if (left <= 0) throw new VmbatchError('ROOT_SSH_FAILED', { target, seconds: Math.round((Date.now() - started) / 1000), reason: lastReason });
    let client;
    try {
      client = await connectGuest({ socket: login.socket, user: login.user, privateKey, hostPublicKey: hostKeys }, Math.min(left, 20_000));
    } catch (error) {
      if (!isVmbatchError(error, 'SSH_FAILED')) throw error;
      lastReason = String((error.params as { reason: string }).reason);
      // a wrong host key or a refused login will not change by waiting or requeueing
      if (/host key|authentication methods failed/i.test(lastReason)) throw new VmbatchError('ROOT_SSH_REFUSED', { target, reason: lastReason });
      await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, input.deadline - Date.now()))));
      continue;
    }
    try {
      await runPrologOverSsh(client, input);
      return;
    } finally {
      client.end();
    }
  }
}

/** How much of prolog.sh's stderr an error quotes: its last lines, and at most this many characters. */
export const prologStderrTail = { lines: 20, chars: 4096 };

// Sends the context and runs prolog.sh on a logged-in client, no longer than the deadline (a
// hanging prolog must not hold the prologue until pbs_mom kills it). Its stderr is kept as a
// bounded tail however much the guest writes.
async function runPrologOverSsh(client: Client, input: { contextTar: string; domain: string; deadline: number }): Promise<void> {
  const started = Date.now();
  const stderr = new PassThrough();
  let tail = '';
  stderr.on('data', (d: Buffer) => {
    // twice the quoted size: a line cut at the front is dropped when the tail is quoted
    tail = (tail + d.toString('latin1')).slice(-2 * prologStderrTail.chars);
  });
  const command = `rm -rf ${guestContextDir} && mkdir -p ${guestContextDir} && tar -x -f - -C ${guestContextDir} && sh ${guestContextDir}/prolog.sh ${guestContextDir}`;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, input.deadline - Date.now()))));
  try {
    const run = await Promise.race([runOnGuest(client, command, { stdout: new PassThrough().resume(), stderr, stdin: createReadStream(input.contextTar) }), timedOut]);
    if (run === 'timeout') {
      // the session goes with the connection; the guest is destroyed with the job
      client.destroy();
      throw new VmbatchError('GUEST_PROLOG_TIMEOUT', { domain: input.domain, seconds: Math.round((Date.now() - started) / 1000), stderrTail: quotedTail(tail) });
    }
    if (run.status !== 0) throw new VmbatchError('GUEST_PROLOG_FAILED', { domain: input.domain, reason: quotedTail(tail) || `prolog.sh exited with ${run.status}` });
  } finally {
    clearTimeout(timer);
  }
}

// The last lines of the guest's stderr, printable, within prologStderrTail (twice the quoted
// size is kept, so a full buffer means its front was cut).
function quotedTail(text: string): string {
  return printableTail(text, prologStderrTail, text.length >= 2 * prologStderrTail.chars);
}

/**
 * Reads and checks the site's ROOTSSH keys: an unencrypted private key and at least one host
 * key line. Done when the job is planned, so a broken setup fails before any guest starts.
 */
export function readRootSshKeys(login: Pick<RootSshLogin, 'privateKeyFile' | 'hostKeysFile'>): { privateKey: string; hostKeys: string[] } {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new VmbatchError('ROOT_SSH_KEYS_INVALID', { file, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message });
    }
  };
  const privateKey = read(login.privateKeyFile);
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new VmbatchError('ROOT_SSH_KEYS_INVALID', { file: login.privateKeyFile, reason: parsed.message });
  const hostKeys = read(login.hostKeysFile)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (hostKeys.length === 0) throw new VmbatchError('ROOT_SSH_KEYS_INVALID', { file: login.hostKeysFile, reason: 'it lists no host key' });
  for (const line of hostKeys) {
    if (ssh2.utils.parseKey(line) instanceof Error) throw new VmbatchError('ROOT_SSH_KEYS_INVALID', { file: login.hostKeysFile, reason: `'${line.slice(0, 40)}' is not an OpenSSH public key line` });
  }
  return { privateKey, hostKeys };
}
