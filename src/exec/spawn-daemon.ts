import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** How a daemon's start ended: it said it is ready, or it exited first (with its exit code). */
export type DaemonStart = { ready: true; pid: number } | { ready: false; exitCode: number | undefined };

/**
 * Starts a daemon that outlives this process: its own session, stdin closed, stdout and stderr
 * appended to `logFile` (never the hook's own output, which pbs_mom reads until it closes), and
 * a pipe as file descriptor 3 on which it writes `ready` once it serves. Resolves when it has
 * said so or has exited, or when `timeoutMs` passes (the daemon is then killed); `onSpawn` gets
 * its pid as soon as it exists. Like runTool,
 * this is the one way vmbatch starts such processes (node's spawn: execa passes no descriptor of
 * a file the daemon must keep writing after this process ends).
 */
export async function spawnDaemon(argv: string[], opts: { logFile: string; timeoutMs: number; onSpawn?: (pid: number) => void }): Promise<DaemonStart> {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnDaemon needs a command');
  const log = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, { stdio: ['ignore', log, log, 'pipe'], detached: true });
    const readyPipe = child.stdio[3] as Readable | null;
    // recorded at once, so that a cleanup after a crash finds a daemon that never got ready
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const ended = new Promise<DaemonStart>((resolve) => {
      child.once('exit', (code) => resolve({ ready: false, exitCode: code ?? undefined }));
      child.once('error', () => resolve({ ready: false, exitCode: undefined }));
    });
    const ready = new Promise<DaemonStart>((resolve) => {
      let said = '';
      readyPipe?.on('data', (chunk: Buffer) => {
        said += chunk.toString('utf8');
        if (said.includes('ready\n') && child.pid !== undefined) resolve({ ready: true, pid: child.pid });
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DaemonStart>((resolve) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ ready: false, exitCode: undefined });
      }, opts.timeoutMs);
    });
    const outcome = await Promise.race([ready, ended, timeout]);
    clearTimeout(timer);
    readyPipe?.destroy();
    // the daemon lives on without this process waiting for it
    if (outcome.ready) child.unref();
    return outcome;
  } finally {
    closeSync(log);
  }
}

/**
 * Starts a command that runs on after this process, unwaited: its own session, no descriptor of
 * this process (a hook's output stays its own: pbs_mom and slurmd read it until it closes).
 * Its outcome is its own to log. Returns its pid, or undefined when it could not start.
 */
export function spawnDetached(argv: string[]): number | undefined {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnDetached needs a command');
  const child = spawn(file, args, { stdio: 'ignore', detached: true });
  child.once('error', () => undefined);
  child.unref();
  return child.pid;
}
