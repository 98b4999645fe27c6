// A stand-in for pbs_mom: it installs and calls the vmbatch hooks exactly as
// shared/reference/torque-contract.md records a real Torque 6.1.3 doing it (argv, environment,
// uid, cwd, umask, stdin, hook permission checks). Torque itself is not packaged in Debian.
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { HostUser } from '../helpers/host-user.js';
import { makeNodeTree } from '../helpers/node-tree.js';
import { waitForFs } from '../helpers/wait-for-fs.js';
import { mainIn, treeParts, underTest } from '../helpers/paths.js';

/** One fake compute node: mom_priv with the hooks, a state dir, domains and a config. */
export interface Mom {
  root: string;
  momPriv: string;
  stateDir: string;
  domainsDir: string;
  configFile: string;
  starter: string;
  logFile: string;
}

/** A job as pbs_mom knows it. */
export interface JobSpec {
  jobId: string;
  user: HostUser;
  jobName?: string;
  resources?: string;
  queue?: string;
  account?: string;
  /** where qsub ran (PBS_O_WORKDIR); the user's home when not given, as for a job submitted from there */
  workdir?: string;
}

/** How a hook run ended. */
export interface HookRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** How a fake node is set up beyond its vmbatch config and templates. */
export interface MomOptions {
  config?: Record<string, unknown>;
  domains?: Record<string, string>;
  /** write `$job_starter STARTER` into mom_priv/config, as docs/admin.md tells an admin to */
  jobStarterLine?: boolean;
  /** install the hooks from a copy of the checkout (tests that break the installed code) */
  copyTree?: boolean;
}

/** Sets up a node: hooks installed by `vmbatch install-hooks torque` (of the vmbatch under test), config, and the shipped test guest template. */
export async function setupMom(options: MomOptions = {}): Promise<Mom> {
  const { root, stateDir, domainsDir, logFile } = makeNodeTree('/tmp/vmbatch-mom-', options.domains);
  const momPriv = join(root, 'mom_priv');
  mkdirSync(join(momPriv, 'jobs'), { recursive: true });
  chmodSync(momPriv, 0o751);
  chmodSync(join(momPriv, 'jobs'), 0o751);
  const configFile = join(root, 'vmbatch.json');
  writeFileSync(configFile, JSON.stringify({ domainsDir, stateDir, logFile, defaultDomain: 'testguest', ...options.config }, null, 2), { mode: 0o644 });
  const starter = join(root, 'bin', 'vmbatch-remoteshell');
  const main = mainIn(installableTree(root, options.copyTree === true));
  await execa(process.execPath, [main, 'install-hooks', 'torque', '--mom-priv', momPriv, '--config', configFile, '--starter', starter]);
  // install-hooks adds the $job_starter line; most tests run a node without it (pbs_mom then aborts failed jobs)
  if (options.jobStarterLine) writeFileSync(join(momPriv, 'config'), `$pbsserver localhost\n$job_starter ${starter}\n`, { mode: 0o644 });
  else rmSync(join(momPriv, 'config'));
  return { root, momPriv, stateDir, domainsDir, configFile, starter, logFile };
}

// $job_starter runs as the job's user, who must be able to read vmbatch's code. A checkout
// below a private directory (e.g. /root) is not readable for them: install from a copy then,
// as a site would install into /opt.
function installableTree(root: string, copy: boolean): string {
  let dir = underTest.tree;
  let readable = !copy;
  while (dir !== dirname(dir)) {
    if ((statSync(dir).mode & 0o005) !== 0o005) readable = false;
    dir = dirname(dir);
  }
  if (readable) return underTest.tree;
  const tree = join(root, 'vmbatch');
  for (const part of treeParts) cpSync(join(underTest.tree, part), join(tree, part), { recursive: true });
  return tree;
}

/** Removes the node's files (the tests check before that nothing of a job is left). */
export function teardownMom(mom: Mom): void {
  rmSync(mom.root, { recursive: true, force: true });
}

/** Runs `body` on a node of its own (another configuration), removed afterwards. */
export async function withMom(options: MomOptions, body: (mom: Mom) => Promise<void>): Promise<void> {
  const mom = await setupMom(options);
  try {
    await body(mom);
  } finally {
    teardownMom(mom);
  }
}

/**
 * pbs_mom's check_pelog_permissions: a root hook must be a regular file owned by uid 0,
 * readable and executable by its owner and writable by neither group nor others. Returns the
 * reason pbs_mom would refuse the hook, or undefined.
 */
export function pelogPermissionProblem(file: string): string | undefined {
  const st = lstatSync(file);
  if (!st.isFile()) return `${file} is not a regular file`;
  if (st.uid !== 0) return `${file} is not owned by root`;
  if ((st.mode & 0o500) !== 0o500) return `${file} is not readable and executable by its owner`;
  if (st.mode & 0o022) return `${file} is writable by group or others`;
  return undefined;
}

/** Adds settings to the node's configuration file (for values known only once the node exists). */
export function updateMomConfig(mom: Mom, patch: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(mom.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(mom.configFile, JSON.stringify({ ...config, ...patch }, null, 2), { mode: 0o644 });
}

/**
 * Ends a job whose prologue failed as pbs_mom does, with the epilogue and exit status -2 (abort)
 * or -14 (requeue); the submitter's notice goes too (tests that check it read it first).
 */
export async function endFailedJob(mom: Mom, job: JobSpec, script: string, exitStatus: -2 | -14 = -2): Promise<HookRun> {
  rmSync(join(job.user.home, `vmbatch-${job.jobId}.err`), { force: true });
  return runEpilogue(mom, job, script, exitStatus);
}

/** Writes the job script where pbs_mom keeps it (mom_priv/jobs/ID.SC), owned by the user. */
export function writeJobScript(mom: Mom, job: JobSpec, content: string): string {
  const path = join(mom.momPriv, 'jobs', `${job.jobId}.SC`);
  writeFileSync(path, content, { mode: 0o500 });
  chownSync(path, job.user.uid, job.user.gid);
  chmodSync(path, 0o500);
  return path;
}

/**
 * The script path pbs_mom passes for an interactive job (`qsub -I`): the same name as a batch
 * job's, but a real pbs_mom never creates the file (torque-contract.md).
 */
export function interactiveScriptPath(mom: Mom, job: JobSpec): string {
  const path = join(mom.momPriv, 'jobs', `${job.jobId}.SC`);
  rmSync(path, { force: true });
  return path;
}

// The job's nodes= spec as Torque's server records it (Resource_List.nodes): the job's own, else
// the default 1.
function nodesSpec(job: JobSpec): string {
  return /(?:^|,)nodes=([^,]*)/.exec(job.resources ?? '')?.[1] ?? '1';
}

// The resource list as pbs_mom passes it: the job's resources, the default walltime, and nodes=
// once (the job's, or the default 1) with the scheduler's copy neednodes.
function resourceList(job: JobSpec): string {
  const extra = job.resources ? `${job.resources},` : '';
  const own = /(?:^|,)nodes=/.test(job.resources ?? '');
  return `${extra}walltime=00:05:00,${own ? '' : 'nodes=1,'}neednodes=${nodesSpec(job)}`;
}

/**
 * PBS_NUM_NODES, PBS_NUM_PPN and PBS_NP as pbs_mom derives them from the job's request
 * (`-l nodes=1:ppn=2` gives PBS_NP=2, PBS_NUM_PPN=2; `procs=P` gives P processors).
 */
export function torqueProcessorEnv(job: JobSpec): { PBS_NUM_NODES: string; PBS_NUM_PPN: string; PBS_NP: string } {
  const spec = nodesSpec(job);
  const nodes = /^[0-9]+/.test(spec) ? Number(/^[0-9]+/.exec(spec)![0]) : 1;
  const procs = /(?:^|,)procs=([0-9]+)/.exec(job.resources ?? '')?.[1];
  const ppn = Number(/:ppn=([0-9]+)/.exec(spec)?.[1] ?? procs ?? 1);
  return { PBS_NUM_NODES: String(nodes), PBS_NUM_PPN: String(ppn), PBS_NP: String(nodes * ppn) };
}

function hookEnv(mom: Mom, job: JobSpec): Record<string, string> {
  return {
    PATH: '/bin:/usr/bin',
    LANG: 'C.UTF-8',
    PBS_RESOURCE_NODES: nodesSpec(job),
    ...torqueProcessorEnv(job),
    PBS_NODENUM: '0',
    PBS_MSHOST: hostname(),
    PBS_NODEFILE: `/var/spool/torque/aux//${job.jobId}`,
    PBS_O_WORKDIR: job.workdir ?? job.user.home,
  };
}

// pbs_mom forks, sets the umask, and execs the hook with exactly this argv and environment
async function runHook(mom: Mom, hook: string, argv: string[], env: Record<string, string>, umask: string): Promise<HookRun> {
  const file = join(mom.momPriv, hook);
  const problem = pelogPermissionProblem(file);
  if (problem) return { exitCode: -1, stdout: '', stderr: `pbs_mom: refusing ${hook}: ${problem}` };
  const run = await execa('/bin/sh', ['-c', `umask ${umask}; exec "$0" "$@"`, file, ...argv], {
    cwd: mom.momPriv,
    env,
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: 300_000,
  });
  return { exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** Runs mom_priv/prologue as root: argv[1..8] of the contract, umask 0077, stdin /dev/null. */
export function runPrologue(mom: Mom, job: JobSpec, scriptPath: string): Promise<HookRun> {
  const argv = [job.jobId, job.user.user, job.user.group, job.jobName ?? 'STDIN', resourceList(job), job.queue ?? 'batch', job.account ?? '', scriptPath];
  return runHook(mom, 'prologue', argv, hookEnv(mom, job), '0077');
}

/**
 * Runs mom_priv/epilogue as root: argv[1..11] of the contract, umask 0022. With
 * VMBATCH_KEEP_JOB set to the job's id (or `all`), the job's guest is kept for inspection first.
 */
export async function runEpilogue(mom: Mom, job: JobSpec, scriptPath: string, exitStatus: number, used = 'cput=00:00:00,vmem=0kb,walltime=00:00:01,mem=0kb,energy_used=0'): Promise<HookRun> {
  await keepForInspection(mom, job);
  const session = exitStatus < 0 ? '0' : '14924';
  const argv = [
    job.jobId,
    job.user.user,
    job.user.group,
    job.jobName ?? 'STDIN',
    session,
    resourceList(job),
    exitStatus < 0 ? '' : used,
    job.queue ?? 'batch',
    job.account ?? '',
    String(exitStatus),
    scriptPath,
  ];
  return runHook(mom, 'epilogue', argv, hookEnv(mom, job), '0022');
}

// A developer's pause (CONTRIBUTING.md, "Keep a failing guest for inspection"): before the
// epilogue of the job named by VMBATCH_KEEP_JOB (or of every job: `all`), say where its files and
// domain are and wait until the marker it names is removed; the guest runs on meanwhile
async function keepForInspection(mom: Mom, job: JobSpec): Promise<void> {
  const wanted = process.env.VMBATCH_KEEP_JOB;
  const dir = join(mom.stateDir, 'jobs', job.jobId);
  if (!wanted || (wanted !== 'all' && wanted !== job.jobId) || !existsSync(dir)) return;
  const keepDir = '/tmp/vmbatch-keep';
  mkdirSync(keepDir, { recursive: true });
  const marker = join(keepDir, job.jobId);
  writeFileSync(marker, `${dir}\n`);
  const domain = (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { domainName?: string }).domainName ?? `vmbatch-${job.jobId}`;
  process.stderr.write(
    `pbs-mom: job ${job.jobId} kept for inspection before its epilogue:\n  files   ${dir}/ (console.log, domain.xml, state.json)\n  domain  virsh -c qemu:///system dumpxml ${domain}\n  go on   rm ${marker}\n`,
  );
  await waitForFs(keepDir, () => !existsSync(marker), 7 * 24 * 3600_000);
}

/** The job's environment as pbs_mom gives it to $job_starter. */
export function jobStarterEnv(mom: Mom, job: JobSpec): Record<string, string> {
  return {
    PATH: '/bin:/usr/bin',
    HOME: job.user.home,
    USER: job.user.user,
    LOGNAME: job.user.user,
    SHELL: '/bin/bash',
    PBS_JOBID: job.jobId,
    PBS_JOBNAME: job.jobName ?? 'STDIN',
    PBS_QUEUE: job.queue ?? 'batch',
    PBS_O_WORKDIR: job.workdir ?? job.user.home,
    PBS_O_HOME: job.user.home,
    PBS_O_LOGNAME: job.user.user,
    PBS_O_HOST: hostname(),
    PBS_O_QUEUE: job.queue ?? 'batch',
    PBS_NODEFILE: `/var/spool/torque/aux//${job.jobId}`,
    ...torqueProcessorEnv(job),
    PBS_WALLTIME: '300',
    PBS_ENVIRONMENT: 'PBS_BATCH',
  };
}

/** Runs $job_starter as the user: argv[1] the user's shell, stdin the script path line, umask 0077. */
export async function runJobStarter(mom: Mom, job: JobSpec, scriptPath: string): Promise<HookRun> {
  return startJobStarter(mom, job, scriptPath).ended;
}

/** A running $job_starter: resolves `printed` once its stdout has shown a text, `ended` when it exits. */
export interface RunningJob {
  printed(text: string): Promise<void>;
  ended: Promise<HookRun>;
}

/** Starts $job_starter as runJobStarter does, for tests that act while the job runs (benches may give a long job more than 120 s). */
export function startJobStarter(mom: Mom, job: JobSpec, scriptPath: string, options: { timeoutMs?: number } = {}): RunningJob {
  const child = execa('/bin/sh', ['-c', 'umask 077; exec "$0" "$@"', mom.starter, '/bin/bash'], {
    cwd: job.user.home,
    env: jobStarterEnv(mom, job),
    extendEnv: false,
    uid: job.user.uid,
    gid: job.user.gid,
    input: `${scriptPath}\n`,
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
  });
  let seen = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    for (const w of waiters.filter((w) => seen.includes(w.text))) w.resolve();
  });
  const ended = child.then((run) => ({ exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr }));
  const printed = (text: string) =>
    seen.includes(text)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ text, resolve })),
          ended.then((r) => Promise.reject(new Error(`the job ended (exit ${r.exitCode}) before printing ${JSON.stringify(text)}: ${r.stderr}`))),
        ]);
  return { printed, ended };
}

/**
 * What a node holds of jobs: domains named vmbatch-*, job dirs, attempt counters, and
 * STATEDIR/ports (port reservations of old; guests have no host port now, so it must stay empty).
 */
export async function leftovers(mom: Mom): Promise<{ domains: string[]; jobs: string[]; ports: string[]; attempts: string[] }> {
  const names = (await execa('virsh', ['-q', '-c', 'qemu:///system', 'list', '--all', '--name'])).stdout;
  const ls = (d: string) => {
    try {
      return readdirSync(join(mom.stateDir, d));
    } catch {
      return [];
    }
  };
  return {
    domains: names
      .split('\n')
      .map((n) => n.trim())
      .filter((n) => n.startsWith('vmbatch-')),
    jobs: ls('jobs'),
    ports: ls('ports'),
    attempts: ls('attempts'),
  };
}

/** Runs $job_starter for `qsub -I`: a terminal on stdin (a pty from script(1)), typed input. */
export async function runInteractiveJobStarter(mom: Mom, job: JobSpec, typed: string): Promise<HookRun> {
  const run = await execa('script', ['-qefc', `${mom.starter} /bin/bash`, '/dev/null'], {
    cwd: job.user.home,
    env: { ...jobStarterEnv(mom, job), PBS_ENVIRONMENT: 'PBS_INTERACTIVE', TERM: 'dumb' },
    extendEnv: false,
    uid: job.user.uid,
    gid: job.user.gid,
    input: typed,
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr };
}
