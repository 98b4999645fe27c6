// bench: vmbatch under a real Slurm (issue 15). One trivial batch job at a time, submitted with
// `sbatch --wait` as an ordinary user, from submission to the end of its epilog; the prolog's
// phases from vmbatch's log; the latency of an `srun --overlap true` step into a running job's
// guest (slurm-task + the session multiplexer) next to the bare exec it carries (one SSH exec
// over the multiplexer, from a process already connected) and next to a fresh connection to the
// multiplexer; the multiplexer's own memory. Prints figures and ratios; asserts nothing.
// Run with the test cluster up (scripts/setup.sh); it writes the cluster's node config.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { freshWorkdir } from '../test/helpers/share-jobs.js';
import { waitForFs } from '../test/helpers/wait-for-fs.js';
import { asUser, setupSlurmNode, submit, teardownSlurmNode, waitForJobEnd, waitForNoJobs } from '../test/slurm/cluster.js';
import { connectGuest, runOnGuest } from '../src/remoteshell/ssh-session.js';
import { readJobState } from '../src/state/job-state.js';
import { jobPaths } from '../src/state/job-paths.js';
import { median, ms, printSummary } from './measure.js';

const runs = Number(process.env.VMBATCH_BENCH_RUNS ?? 3);
const user = await ensureHostUser('vbe2e', 31337, 31338);
const node = setupSlurmNode();
const dir = freshWorkdir(user, 'bench-slurm-');
const sink = new Writable({ write: (_chunk, _enc, done) => done() });

try {
  // 1. whole jobs: sbatch --wait returns when the job ends; its epilog is waited for too
  const wholeJob: number[] = [];
  for (let i = 0; i < runs; i++) {
    wholeJob.push(
      await ms(async () => {
        const run = await asUser(user, ['sbatch', '--wait', '--parsable', '--output=/dev/null', '--wrap', 'true'], { cwd: dir });
        if (run.exitCode !== 0) throw new Error(`sbatch: ${run.stderr}`);
        await waitForNoJobs(user);
      }),
    );
  }
  const phases = readFileSync(node.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('hook=slurm-prolog') && l.includes('msg="ready"'))
    .map((l) => Object.fromEntries([...l.matchAll(/ ([a-z]+)=([0-9.]+)(?= |$)/g)].map((m) => [m[1]!, Number(m[2])])));
  const phase = (name: string) => median(phases.map((p) => p[name] ?? NaN));

  // 2. steps into a running job's guest
  console.log('whole jobs done; now steps into a running job');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --output=/dev/null\necho up > bench-started\nwhile [ ! -e bench-release ]; do sleep 0.2; done\n');
  await waitForFs(dir, () => existsSync(join(dir, 'bench-started')), 120_000);
  const step: number[] = [];
  for (let i = 0; i < runs * 3; i++)
    step.push(
      await ms(async () => {
        const r = await asUser(user, ['srun', `--jobid=${jobId}`, '--overlap', 'true'], { cwd: dir });
        if (r.exitCode !== 0) throw new Error(`srun: ${r.stderr}`);
      }),
    );
  const state = readJobState(jobPaths(node.stateDir, jobId).stateFile)!;
  const key = readFileSync(jobPaths(node.stateDir, jobId).userKey, 'utf8');
  const endpoint = { socket: state.sessionSocket!, user: state.user, privateKey: key, hostPublicKey: state.sessionHostPublicKey!, plain: true };
  const connected = await connectGuest(endpoint);
  const bareExec: number[] = [];
  for (let i = 0; i < runs * 3; i++) bareExec.push(await ms(() => runOnGuest(connected, 'true', { stdout: sink, stderr: sink })));
  connected.end();
  const freshConnect: number[] = [];
  for (let i = 0; i < runs * 3; i++)
    freshConnect.push(
      await ms(async () => {
        const c = await connectGuest(endpoint);
        await runOnGuest(c, 'true', { stdout: sink, stderr: sink });
        c.end();
      }),
    );
  const muxPid = Number(readFileSync(join(jobPaths(node.stateDir, jobId).dir, 'session-mux.pid'), 'utf8').split(' ')[0]);
  const rssKiB = Number(/VmRSS:\s+([0-9]+)/.exec(readFileSync(`/proc/${muxPid}/status`, 'utf8'))?.[1]);
  await execa('touch', [join(dir, 'bench-release')]);
  await waitForJobEnd(jobId);

  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const m = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`whole jobs (${runs}):        ${wholeJob.map(s).join(', ')}`);
  console.log(`prolog phases (median ms): ${['parse', 'disks', 'iso', 'shares', 'create', 'ready', 'sessions', 'total'].map((p) => `${p}=${phase(p).toFixed(0)}`).join(' ')}`);
  console.log(`srun step (${step.length}):        ${step.map(m).join(', ')}`);
  console.log(`bare exec over the mux:    ${bareExec.map(m).join(', ')}`);
  console.log(`connect + exec (mux):      ${freshConnect.map(m).join(', ')}`);
  printSummary('Slurm (issue 15): figures and ratios', [
    { figure: 'sbatch --wait of `true`, to the end of its epilog', value: s(median(wholeJob)), target: 'reference', met: undefined },
    { figure: '  of which the prolog (guest booted and ready)', value: `${s(phase('total'))} (${((phase('total') / median(wholeJob)) * 100).toFixed(0)}%)`, target: 'reference', met: undefined },
    { figure: '  of which starting the session multiplexer', value: m(phase('sessions')), target: 'reference', met: undefined },
    {
      figure: 'srun --overlap true into the guest',
      value: `${m(median(step))} (${(median(step) / median(bareExec)).toFixed(1)}x a bare exec, ${(median(step) / median(freshConnect)).toFixed(1)}x connect + exec)`,
      target: 'reference',
      met: undefined,
    },
    { figure: 'bare exec over the multiplexer (connected)', value: m(median(bareExec)), target: 'reference', met: undefined },
    { figure: 'session multiplexer resident memory', value: `${(rssKiB / 1024).toFixed(1)} MiB`, target: 'reference', met: undefined },
  ]);
} finally {
  teardownSlurmNode(node);
  rmSync(dir, { recursive: true, force: true });
}
