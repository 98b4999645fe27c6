import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A live process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid,
 * it names one process, not a reused pid. Undefined once the process has ended (a zombie too).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Stops every share daemon a job directory records (share-N.pid): SIGTERM, then SIGKILL after
 * `graceMs`, waiting until each is gone; a pid whose start time differs is another process
 * now and is left alone. Idempotent; removes the pid files and sockets. Returns how many it stopped.
 */
export async function stopShareDaemons(jobDir: string, graceMs = 3000): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(jobDir).filter((n) => /^share-\d+\.pid$/.test(n));
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const name of names) {
    const file = join(jobDir, name);
    const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 1 && started && processStartTime(pid) === started) {
      signal(pid, 'SIGTERM');
      // the daemon is not our child: its end is seen in /proc
      const until = Date.now() + graceMs;
      while (processStartTime(pid) === started && Date.now() < until) await delay(20);
      if (processStartTime(pid) === started) {
        signal(pid, 'SIGKILL');
        while (processStartTime(pid) === started) await delay(20);
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
