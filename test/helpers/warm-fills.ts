import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';

/**
 * Waits until every `vmbatch warm fill` a prologue started in the background has ended: its log
 * line (msg="warm fill started" pid=N) names its pid, and tail --pid waits on that process.
 */
export async function settleFills(logFile: string): Promise<void> {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  for (const m of log.matchAll(/msg="warm fill started" .*pid=(\d+)/g)) await execa('tail', ['--pid', m[1]!, '-s', '0.05', '-f', '/dev/null']);
}
