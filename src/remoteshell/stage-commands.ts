import { printableLine } from '../log/printable-tail.js';
import { shellQuote } from '../shell/quote.js';

/** The node's tar packing the staged directory (as the submitter): its members as the directory holds them, symbolic links as links. */
export function hostPackArgv(hostDir: string): string[] {
  return ['tar', '-c', '-f', '-', '-C', hostDir, '.'];
}

/** The guest's command (run as the user) that unpacks the staged directory from its stdin, owned by the user. */
export function guestUnpackCommand(guestDir: string): string {
  return `cd ${shellQuote(guestDir)} && tar -x -o -f -`;
}

/** The guest's command (run as the user) that packs the staged directory onto its stdout. */
export function guestPackCommand(guestDir: string): string {
  return `cd ${shellQuote(guestDir)} && tar -c -f - .`;
}

/**
 * The node's GNU tar unpacking what the guest sent (hostile input) into a fresh, empty
 * directory, as the submitter and under umask 0000: it keeps no absolute names (a leading '/'
 * is removed) and skips members with '..'; a symbolic link whose target is absolute or holds
 * '..' is made only after every other member (a placeholder file until then), so nothing is
 * written through it; --no-same-permissions (under umask 0) keeps the rwx bits the job chose
 * and never a setuid, setgid or sticky bit; --no-same-owner gives every file to the submitter;
 * --no-overwrite-dir keeps the fresh directory's own mode; devices cannot be made by a user.
 */
export function hostUnpackArgv(freshDir: string): string[] {
  return ['tar', '-x', '-f', '-', '-C', freshDir, '--no-same-owner', '--no-same-permissions', '--no-overwrite-dir'];
}

/** The file mode mask the node's unpacking tar runs under (hostUnpackArgv). */
export const hostUnpackUmask = 0o000;

/**
 * Why a tar run failed, in one printable line: the first message that is not a notice (tar's
 * "Removing leading ..." and its closing "Exiting with failure status" or "Error is not
 * recoverable"), how many more there were, else the exit status. `who` names the tar (the node's, the guest's).
 */
export function tarFailure(who: string, exitCode: number, stderr: string): string {
  const lines = stderr
    .split('\n')
    .map(printableLine)
    .filter((l) => l !== '' && !/^tar: (Removing leading|Exiting with failure status|Error is not recoverable)/.test(l));
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more message${lines.length > 2 ? 's' : ''})` : '';
  const status = exitCode < 0 ? 'was stopped' : `exited with status ${exitCode}`;
  return `${who} ${status}${lines[0] ? `: ${lines[0].slice(0, 200)}${more}` : ''}`;
}
