// Drives the real single-node Slurm that scripts/start-slurm.sh runs: a vmbatch node config for
// its SPANK plugin (the wrappers read /var/lib/vmbatch/slurm-node.json), jobs submitted as an
// ordinary user with the real sbatch, srun and salloc, job records from scontrol (no accounting).
import { chownSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { HostUser } from '../helpers/host-user.js';
import { makeNodeTree, type NodeTree } from '../helpers/node-tree.js';

/** The config file the installed Slurm wrappers name (scripts/setup.sh). */
export const slurmNodeConfig = '/var/lib/vmbatch/slurm-node.json';
/** The test cluster's only node. */
export const slurmNode = hostname().split('.')[0]!;

/** One vmbatch node under the test Slurm: state, templates, log. */
export type SlurmNode = NodeTree;

/** Writes the node's vmbatch config (atomically: slurmd may start a job meanwhile) with the shipped test guest template. */
export function setupSlurmNode(options: { config?: Record<string, unknown>; domains?: Record<string, string> } = {}): SlurmNode {
  const node = makeNodeTree('/tmp/vmbatch-slurm-', options.domains);
  writeNodeConfig(node, options.config ?? {});
  return node;
}

/** Replaces the node's config (a test that breaks it restores it with this). */
export function writeNodeConfig(node: SlurmNode, config: Record<string, unknown>): void {
  const tmp = `${slurmNodeConfig}.tmp`;
  writeFileSync(tmp, JSON.stringify({ domainsDir: node.domainsDir, stateDir: node.stateDir, logFile: node.logFile, defaultDomain: 'testguest', ...config }, null, 2), { mode: 0o644 });
  renameSync(tmp, slurmNodeConfig);
}

/** Removes the node's directory once its jobs are gone. */
export function teardownSlurmNode(node: SlurmNode): void {
  rmSync(node.root, { recursive: true, force: true });
}

/** How a command of the user's ended. */
export interface UserRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm command as the user, in `cwd`, with a plain login-like environment. */
export async function asUser(user: HostUser, argv: string[], opts: { cwd: string; input?: string; timeoutMs?: number }): Promise<UserRun> {
  const run = await execa(argv[0]!, argv.slice(1), {
    cwd: opts.cwd,
    uid: user.uid,
    gid: user.gid,
    env: { HOME: user.home, USER: user.user, LOGNAME: user.user, PATH: '/usr/local/bin:/usr/bin:/bin', SHELL: '/bin/bash', TERM: 'dumb' },
    extendEnv: false,
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs ?? 240_000,
  });
  return { exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** Submits a script with `sbatch --parsable` (returns at once) and gives the job id. */
export async function submit(user: HostUser, cwd: string, script: string, sbatchArgs: string[] = [], scriptArgs: string[] = []): Promise<string> {
  const file = join(cwd, `job-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.sh`);
  writeFileSync(file, script, { mode: 0o644 });
  chownSync(file, user.uid, user.gid);
  const run = await asUser(user, ['sbatch', '--parsable', ...sbatchArgs, file, ...scriptArgs], { cwd });
  if (run.exitCode !== 0) throw new Error(`sbatch failed (${run.exitCode}): ${run.stderr}`);
  return run.stdout.trim().split(';')[0]!;
}

/** A job's record as `scontrol -o show job` prints it, by field; undefined once Slurm forgot the job. */
export async function jobRecord(jobId: string): Promise<Record<string, string> | undefined> {
  const run = await execa('scontrol', ['-o', 'show', 'job', jobId], { reject: false });
  if (run.exitCode !== 0) return undefined;
  const fields: Record<string, string> = {};
  for (const m of run.stdout.matchAll(/(?:^| )([A-Za-z/:]+)=(\S*)/g)) fields[m[1]!] = m[2]!;
  return fields;
}

/** Waits until `check` holds for the job's record (Slurm has no event stream: its state is asked). */
export async function waitForJob(jobId: string, what: string, check: (record: Record<string, string> | undefined) => boolean, timeoutMs = 240_000): Promise<Record<string, string> | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await jobRecord(jobId);
    if (check(record)) return record;
    if (Date.now() > deadline) throw new Error(`job ${jobId}: not ${what} within ${timeoutMs} ms; last record: ${JSON.stringify(record)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the job has ended and its epilog ran (state no longer PENDING, RUNNING or COMPLETING). */
export function waitForJobEnd(jobId: string, timeoutMs?: number): Promise<Record<string, string> | undefined> {
  return waitForJob(
    jobId,
    'ended',
    (r) =>
      r !== undefined &&
      !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED'].includes(r.JobState ?? '') &&
      !(r.JobState ?? '').includes('COMPLETING') &&
      !/COMPLETING/.test(r.Reason ?? ''),
    timeoutMs,
  );
}

/** The node's state as sinfo reports it (idle, mixed, allocated, drained, ...). */
export async function nodeState(): Promise<string> {
  return (await execa('sinfo', ['-h', '-n', slurmNode, '-o', '%T'])).stdout.trim();
}

/** What a node holds of its jobs: guests, job directories, the jobs' locks and attempt counters. */
export async function slurmLeftovers(node: SlurmNode): Promise<{ domains: string[]; jobs: string[]; locks: string[]; attempts: string[] }> {
  const names = (await execa('virsh', ['-q', '-c', 'qemu:///system', 'list', '--all', '--name'])).stdout;
  const ls = (dir: string) => {
    try {
      return readdirSync(join(node.stateDir, dir));
    } catch {
      return [];
    }
  };
  return {
    domains: names
      .split('\n')
      .map((n) => n.trim())
      .filter((n) => /^vmbatch-(9[0-9]{5,}|pool-[0-9a-f]{12}-[0-9]+)$/.test(n)),
    jobs: ls('jobs'),
    locks: ls('slurm-locks'),
    attempts: ls('attempts'),
  };
}

/** Waits until the user has no job left, not even one whose epilog still runs (srun's and salloc's allocations end after the command returns). */
export async function waitForNoJobs(user: HostUser, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queue = (await execa('squeue', ['-h', '-u', user.user, '-o', '%i %T'])).stdout.trim();
    if (queue === '') return;
    if (Date.now() > deadline) throw new Error(`jobs of ${user.user} still queued after ${timeoutMs} ms: ${queue}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until sinfo reports the node in a state `pattern` matches (a resumed node answers slurmctld's next ping). */
export async function waitForNodeState(pattern: RegExp, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await nodeState();
    if (pattern.test(state)) return state;
    if (Date.now() > deadline) throw new Error(`node ${slurmNode} is ${state}, not ${pattern}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
