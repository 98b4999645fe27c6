import { readFileSync } from 'node:fs';

/** The kernel's id of the running boot; a record carrying another one was made before the node last started. */
export function currentBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** When the node booted (epoch ms, /proc/stat btime): files older than this predate the boot. */
export function bootTimeMs(): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('btime '));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1000;
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), undefined when
 * no such process runs (an ended one not yet reaped, a zombie, runs no more). With the pid it
 * names one process: a pid reused later has another one.
 */
export function processStartTicks(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}
