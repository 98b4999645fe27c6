import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { spawnStreamingTool } from '../exec/spawn-tool.js';
import { printableLine } from '../log/printable-tail.js';
import type { StagedDirectory } from '../share/staged-directory.js';
import { mergeUnpacked, type SentFiles } from './stage-merge.js';
import { guestPackCommand, guestUnpackCommand, hostPackArgv, hostUnpackArgv, hostUnpackUmask, tarFailure } from './stage-commands.js';
import { runOnGuest } from './ssh-session.js';

type Client = InstanceType<typeof ssh2.Client>;

/**
 * Copies the staged directory into the guest before the job: the node's tar packs it as the
 * submitter (remoteshell runs as them) into an SSH channel of the job's own session, where the
 * guest's tar unpacks it as the user. Resolves with why it was not copied wholly, or undefined.
 */
export async function stageIn(client: Client, staged: StagedDirectory): Promise<string | undefined> {
  const tar = await spawnStreamingTool(hostPackArgv(staged.hostDir));
  const guest = guestOutput(Infinity, () => undefined);
  const run = await runOnGuest(client, guestUnpackCommand(staged.guestDir), { stdin: tar.stdout, stdout: guest.stdout, stderr: guest.stderr });
  // a guest that stopped reading must not leave the node's tar blocked on a full pipe
  tar.stdout.destroy();
  const local = await tar.ended;
  const problems = [local.exitCode === 0 ? '' : tarFailure("the node's tar", local.exitCode, local.stderr), guestFailure(run, guest.text())];
  return joinProblems(problems);
}

/**
 * Copies the staged directory back after the job (mode rw): the guest's tar packs it onto an
 * SSH channel, the node's GNU tar unpacks that hostile stream as the submitter into a fresh
 * directory inside the staged one (hostUnpackArgv says what it refuses), and mergeUnpacked moves
 * it in (a file the job left as `sent` has it keeps the node's). At most `maxBytes` are taken
 * from the guest: a larger or endless stream ends the session. What was unpacked before a
 * failure is kept. Resolves with why, or undefined.
 */
export async function stageOut(client: Client, staged: StagedDirectory, maxBytes: number, sent?: SentFiles): Promise<string | undefined> {
  let fresh: string;
  try {
    fresh = mkdtempSync(join(staged.hostDir, '.vmbatch-stage-'));
  } catch (error) {
    return `the node cannot make a directory in it (${errnoText(error)})`;
  }
  try {
    const tar = await spawnStreamingTool(hostUnpackArgv(fresh), { umask: hostUnpackUmask });
    const guest = guestOutput(maxBytes, () => client.end(), tar.stdin);
    const run = await runOnGuest(client, guestPackCommand(staged.guestDir), { stdout: guest.stdout, stderr: guest.stderr });
    tar.stdin.end();
    const local = await tar.ended;
    const left = mergeUnpacked(fresh, staged.hostDir, sent);
    const problems = [
      guest.over() ? `the guest sent more than ${Math.floor(maxBytes / 1048576)} MiB (the site's shares.stageOutMaxMiB)` : guestFailure(run, guest.text()),
      // a guest that sent nothing left the node's tar nothing to unpack: its complaint says no more
      local.exitCode === 0 || guest.forwarded() === 0 ? '' : tarFailure("the node's tar", local.exitCode, local.stderr),
      left.length ? `not copied back: ${left.slice(0, 3).join(', ')}${left.length > 3 ? ` and ${left.length - 3} more` : ''}` : '',
    ];
    return joinProblems(problems);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

// What the guest's side of a copy said when it failed: its session lost, or its exit status and message.
function guestFailure(run: { status: number; lost: boolean }, text: string): string {
  if (run.lost) return 'the guest ended the session without an exit status';
  return run.status === 0 ? '' : tarFailure("the guest's tar", run.status, text);
}

function joinProblems(problems: string[]): string | undefined {
  const text = problems
    .filter((p) => p !== '')
    .map(printableLine)
    .join('; ');
  return text || undefined;
}

function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  // "ENOENT: no such file or directory, mkdtemp '...'": the reason without the call
  return /^[A-Z]+: ([^,]+)/.exec(e.message ?? '')?.[1] ?? String(error);
}

/**
 * Sinks for a copy channel's stdout and stderr: every byte counts against `maxBytes` (past it,
 * `over` ends the session and the rest is dropped); stdout goes on to `forward` when given (with
 * its back-pressure; `forwarded` counts it), else it is kept with stderr as the first 16 KiB of text.
 */
function guestOutput(maxBytes: number, over: () => void, forward?: Writable) {
  let received = 0;
  let forwarded = 0;
  let text = '';
  let exceeded = false;
  const sink = (pass: boolean) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > maxBytes) {
          if (!exceeded) over();
          exceeded = true;
          return done();
        }
        if (!pass || !forward) {
          if (text.length < 16384) text += chunk.toString('latin1').slice(0, 16384 - text.length);
          return done();
        }
        forwarded += chunk.length;
        if (forward.destroyed || forward.write(chunk)) return done();
        const resume = () => {
          forward.off('drain', resume);
          forward.off('close', resume);
          done();
        };
        forward.on('drain', resume);
        forward.on('close', resume);
      },
    });
  return { stdout: sink(true), stderr: sink(false), text: () => text, over: () => exceeded, forwarded: () => forwarded };
}

/**
 * Runs one copy of the staged directory and prints why it failed as one line on `stderr` (the
 * job's); whatever happens, the job's exit status stays its own. Copies run only as the
 * submitter: remoteshell running as root copies nothing and says so.
 */
export async function reportedCopy(direction: 'in' | 'out', staged: StagedDirectory, copy: () => Promise<string | undefined>, stderr: NodeJS.WritableStream, uid = process.getuid?.()): Promise<void> {
  let reason: string | undefined;
  try {
    reason = uid === 0 ? "remoteshell runs as root, and only the job's user copies its files" : await copy();
  } catch (error) {
    reason = printableLine(error instanceof Error ? error.message : String(error));
  }
  if (reason) stderr.write(`vmbatch: STAGE_FAILED: ${new VmbatchError('STAGE_FAILED', { direction, dir: staged.hostDir, reason }).message}\n`);
}
