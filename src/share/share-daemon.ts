import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { processStartTicks } from '../state/boot-id.js';

/**
 * Stops every daemon a job directory records (share-N.pid: virtiofsd; session-mux.pid: the
 * session multiplexer): SIGTERM, then SIGKILL after
 * `graceMs`, waiting until each is gone; a pid whose start time differs is another process
 * now and is left alone. Idempotent; removes the pid files and sockets. Returns how many it stopped.
 */
export async function stopShareDaemons(jobDir: string, graceMs = 3000): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(jobDir).filter((n) => /^(share-\d+|session-mux)\.pid$/.test(n));
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const name of names) {
    const file = join(jobDir, name);
    const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 1 && started && processStartTicks(pid) === started) {
      signal(pid, 'SIGTERM');
      // the daemon is not our child: its end is seen in /proc
      const until = Date.now() + graceMs;
      while (processStartTicks(pid) === started && Date.now() < until) await delay(20);
      if (processStartTicks(pid) === started) {
        signal(pid, 'SIGKILL');
        while (processStartTicks(pid) === started) await delay(20);
      }
      stopped++;
    }
    rmSync(file, { force: true });
    rmSync(file.replace(/\.pid$/, '.sock'), { force: true });
  }
  return stopped;
}

// Sends a signal to a process that may have ended already.
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}
