import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether pbs_mom runs jobs through a `$job_starter` (a line of MOM_PRIV/config). Only then may
 * the prologue let a failed job "run": the starter, vmbatch's remoteshell, ends it at once with
 * the reason in its error file. Without one the job script would run on the node itself, so
 * the prologue aborts the job instead (fail closed).
 */
export function torqueJobStarterConfigured(momPriv: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(momPriv, 'config'), 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => /^\s*\$job_starter\s+\S/.test(line));
}
