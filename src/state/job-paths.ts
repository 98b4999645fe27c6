import { join } from 'node:path';

/** Where one job's files live on the host; everything per job is inside `dir`, so cleanup is one removal. */
export interface JobPaths {
  dir: string;
  stateFile: string;
  consoleFile: string;
  /** console remoteshell: the guest's second serial port, a socket the submitter may open */
  consoleSocket: string;
  /** <vbsshchannel/>: the guest's SSH port, a socket only the submitter (and root) may open */
  sshSocket: string;
  isoFile: string;
  /** where the context files are staged (for the ISO, the ROOTSSH archive or the DISK writes) */
  contextStaging: string;
  /** ROOTSSH: the context files as a tar archive sent to the guest */
  contextTar: string;
  userKey: string;
  domainXml: string;
  /** the image cache entries the job uses (JSON lines), so teardown can release them */
  cacheUses: string;
}

/** The per-job paths below the state directory. */
export function jobPaths(stateDir: string, jobId: string): JobPaths {
  return jobPathsIn(join(stateDir, 'jobs', jobId));
}

/** The same layout in any directory (a warm build's, src/warm). */
export function jobPathsIn(dir: string): JobPaths {
  return {
    dir,
    stateFile: join(dir, 'state.json'),
    consoleFile: join(dir, 'console.log'),
    consoleSocket: join(dir, 'console.sock'),
    sshSocket: join(dir, 'ssh.sock'),
    isoFile: join(dir, 'context.iso'),
    contextStaging: join(dir, 'context.d'),
    contextTar: join(dir, 'context.tar'),
    userKey: join(dir, 'user_key'),
    domainXml: join(dir, 'domain.xml'),
    cacheUses: join(dir, 'cache-uses.jsonl'),
  };
}

/** The per-job file of a disk (overlay, private download or created disk), by target and extension. */
export function diskFilePath(paths: Pick<JobPaths, 'dir'>, target: string, extension: string): string {
  return join(paths.dir, `disk-${target.replace(/[^A-Za-z0-9_-]/g, '_')}.${extension}`);
}

/** File counting a job's prologue attempts (kept across requeues, removed by the final epilogue). */
export function attemptsFile(stateDir: string, jobId: string): string {
  return join(stateDir, 'attempts', jobId);
}
