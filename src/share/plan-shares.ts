import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { DomainTemplate } from '../domain/parse-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobRequest } from '../job/resources.js';
import type { Submitter } from '../job/submitter.js';
import type { JobPaths } from '../state/job-paths.js';
import { guestPathProblem, isSameOrInside, plainPath } from './share-path.js';
import type { StagedDirectory } from './staged-directory.js';

/** A host directory the guest mounts at the same path over virtiofs, served by its own daemon running as the submitter. */
export interface SharedDirectory {
  /** what the template asked for: the working directory, the submitter's home, or a site path */
  what: 'workdir' | 'home' | 'site';
  /** the host directory, and the guest's mount point */
  path: string;
  mode: 'rw' | 'ro';
  /** the virtiofs tag the guest mounts (vbshare0, vbshare1, ...) */
  tag: string;
  /** the daemon's vhost-user socket (the job's qemu alone may connect), its pid file and log */
  socket: string;
  pidFile: string;
  logFile: string;
}

/** How the job's files reach its guest: the shares in mount order (parents first), the staged working directory, and the homes. */
export interface SharePlan {
  shared: SharedDirectory[];
  staged: StagedDirectory | undefined;
  /** the job's working directory: the guest starts the job there */
  workdir: string;
  /** the submitter's home on the node: the job's HOME in the guest */
  home: string;
  /** the home in the guest's passwd (its SSH key): the host home, or a guest-private one when a share or the staging covers it */
  loginHome: string;
}

/** Where a guest user's login files live when the host home is shared over their guest home. */
export const guestLoginHomeDir = '/var/lib/vmbatch-login';

/**
 * Resolves the template's <vbshare> tags for one job: the working directory (PBS_O_WORKDIR,
 * from the submitter: checked here), the home (from NSS) and site paths (only those the site
 * allows). The working directory is staged instead of shared when the template says so, the
 * job asks for it (vbstage=yes) or the site forbids shares. Every problem is reported at once.
 */
export function planShares(input: {
  template: DomainTemplate;
  shares: Config['shares'];
  submitter: Submitter;
  /** PBS_O_WORKDIR; the home when the batch system gives none */
  workdir: string | undefined;
  request: JobRequest;
  paths: JobPaths;
}): SharePlan {
  const { template, submitter, request } = input;
  const workdirGiven = input.workdir ?? submitter.home;
  const workdirProblem = guestPathProblem(workdirGiven);
  if (workdirProblem) throw new VmbatchError('WORKDIR_INVALID', { path: workdirGiven, reason: workdirProblem });
  const workdir = plainPath(workdirGiven);
  const home = plainPath(submitter.home);
  const problems: string[] = [];
  const sshRemoteshell = template.vb.sshChannel && template.vb.remoteshell.mode === 'ssh';
  const workdirShare = template.vb.shares.find((s) => s.source === 'workdir');
  const stageWorkdir = request.vbstage === 'yes' || workdirShare?.method === 'stage' || (!input.shares.virtiofs && workdirShare !== undefined);
  if (stageWorkdir && !sshRemoteshell) {
    const why = request.vbstage === 'yes' ? 'vbstage=yes' : 'the site allows no shared directories (shares.virtiofs is false), so the working directory would be staged';
    problems.push(`${why}: the template ${template.file} reaches its guest without SSH, over which the files are copied`);
  }
  if (request.vbstage === 'no' && workdirShare?.method === 'stage') problems.push(`vbstage=no: the template ${template.file} stages the working directory (its guest cannot mount shares)`);

  const wanted: { what: SharedDirectory['what']; path: string; mode: 'rw' | 'ro' }[] = [];
  for (const share of template.vb.shares) {
    if (share.source === 'workdir') {
      if (!stageWorkdir) wanted.push({ what: 'workdir', path: workdir, mode: share.mode });
      continue;
    }
    const what = share.source === 'home' ? 'home' : 'site';
    const path = what === 'home' ? home : plainPath(share.source);
    if (!input.shares.virtiofs) {
      problems.push(`the site allows no shared directories (shares.virtiofs is false), and the template ${template.file} shares ${what === 'home' ? `the home directory ${path}` : path}`);
      continue;
    }
    if (what === 'home') {
      const homeProblem = guestPathProblem(submitter.home);
      if (homeProblem) {
        problems.push(`the home directory '${submitter.home}' of ${submitter.user} cannot be shared: ${homeProblem}`);
        continue;
      }
    } else if (!input.shares.allowedPaths.some((allowed) => isSameOrInside(path, plainPath(allowed)))) {
      throw new VmbatchError('SHARE_NOT_ALLOWED', { template: template.file, path, allowed: input.shares.allowedPaths });
    } else {
      const siteProblem = guestPathProblem(path);
      if (siteProblem) problems.push(`the site path ${path} cannot be shared: ${siteProblem}`);
    }
    wanted.push({ what, path, mode: share.mode });
  }
  const staged: StagedDirectory | undefined = stageWorkdir ? { hostDir: workdir, guestDir: workdir, mode: workdirShare?.mode ?? 'rw' } : undefined;
  if (staged) {
    const inside = wanted.find((w) => isSameOrInside(workdir, w.path));
    if (inside) problems.push(`the working directory ${workdir} is staged, but it is inside the shared directory ${inside.path}: submit from elsewhere or do not ask for vbstage=yes`);
  }
  if (problems.length) throw new VmbatchError('SHARE_REFUSED', { problems });

  // one share per path (the working directory may be the home): writable when either asks
  const byPath = new Map<string, (typeof wanted)[number]>();
  for (const w of wanted) {
    const seen = byPath.get(w.path);
    byPath.set(w.path, seen ? { ...seen, mode: seen.mode === 'rw' || w.mode === 'rw' ? 'rw' : 'ro' } : w);
  }
  // parents are mounted before the directories inside them
  const ordered = [...byPath.values()].sort((a, b) => a.path.split('/').length - b.path.split('/').length || a.path.localeCompare(b.path));
  const shared = ordered.map((w, i) => ({
    ...w,
    tag: `vbshare${i}`,
    socket: join(input.paths.dir, `share-${i}.sock`),
    pidFile: join(input.paths.dir, `share-${i}.pid`),
    logFile: join(input.paths.dir, `share-${i}.log`),
  }));
  const covered = [...shared.map((s) => s.path), ...(staged ? [staged.guestDir] : [])].some((p) => isSameOrInside(home, p));
  return { shared, staged, workdir, home, loginHome: covered ? `${guestLoginHomeDir}/${submitter.user}` : home };
}
