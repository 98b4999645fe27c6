import { runTool } from '../exec/run-tool.js';
import { shellQuote } from '../shell/quote.js';

/** Where the submitter finds why vmbatch aborted or requeued the job. */
export function noticePath(workdir: string, jobId: string): string {
  return `${workdir.replace(/\/+$/, '')}/vmbatch-${jobId}.err`;
}

/**
 * Writes the notice into the job's working directory with the submitter's own uid/gid (never
 * root's, so root never writes into a user-controlled directory), atomically. Best effort: a
 * notice that cannot be written must not hide the original failure.
 */
export async function writeSubmitterNotice(target: { workdir: string; jobId: string; uid: number; gid: number }, text: string): Promise<string | undefined> {
  const path = noticePath(target.workdir, target.jobId);
  const tmp = `${path}.tmp.${process.pid}`;
  const script = `umask 077; cat > ${shellQuote(tmp)} && mv -f ${shellQuote(tmp)} ${shellQuote(path)}`;
  try {
    await runTool(['/bin/sh', '-c', script], { uid: target.uid, gid: target.gid, input: text, env: { PATH: '/bin:/usr/bin' }, timeoutMs: 10_000 });
    return path;
  } catch {
    return undefined;
  }
}
