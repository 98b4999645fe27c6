import { VmbatchError, isVmbatchError } from './vmbatch-error.js';

const noSpaceCodes: Record<string, string> = { ENOSPC: 'the filesystem is full', EDQUOT: 'the disk quota is used up' };

/** Why a write failed for want of space, by errno code (ENOSPC, EDQUOT); undefined for other codes. */
export function noSpaceReason(code: string | undefined): string | undefined {
  return code === undefined ? undefined : noSpaceCodes[code];
}
// what tools print for ENOSPC and EDQUOT (strerror), whichever tool it is
const noSpaceText = /No space left on device|Disk quota exceeded/;

/**
 * A tool's failure that says the disk is full, as DISK_FULL naming the path the tool named
 * (else the tool): its stderr carries strerror's words. Undefined when it says something else.
 */
export function diskFullOfToolError(argv: string[], stderr: string): VmbatchError | undefined {
  const line = stderr.split('\n').find((l) => noSpaceText.test(l));
  if (!line) return undefined;
  const path = /(\/[^\s:'"`,]+)/.exec(line)?.[1] ?? `the output of ${argv[0]}`;
  const code = line.includes('quota') ? 'EDQUOT' : 'ENOSPC';
  return new VmbatchError('DISK_FULL', { path, reason: `${noSpaceCodes[code]} (${code}): ${argv[0]} said: ${line.trim().slice(0, 300)}` });
}

/**
 * Any error that means "no space" as the transient DISK_FULL (a Node error with ENOSPC or
 * EDQUOT from an atomic write, a mkdir, a copy), naming its path; other errors unchanged. The
 * prologue passes every failure through it once, so no full disk ever aborts a job as INTERNAL.
 */
export function asDiskFull(error: unknown): unknown {
  if (isVmbatchError(error)) return error;
  const e = error as NodeJS.ErrnoException & { dest?: string };
  const why = noSpaceReason(typeof e?.code === 'string' ? e.code : undefined);
  if (!why) return error;
  const path = e.path ?? e.dest ?? 'a file of the job';
  return new VmbatchError('DISK_FULL', { path, reason: `${why} (${e.code}${e.syscall ? ` in ${e.syscall}` : ''})` });
}
