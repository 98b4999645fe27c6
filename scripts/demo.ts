// `make demo`: one whole job on this machine, played as Torque's pbs_mom plays it: the prologue
// boots a guest from domains/testguest.xml, the job runs in it as an ordinary user through
// remoteshell, in the directory it was submitted from (shared into the guest): it reads an input
// file there and writes its result back; the epilogue tears the guest down. Prints the job's
// output, the result file as the node sees it, and each phase's time.
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript } from '../test/torque/pbs-mom.js';

const sample = `#!/bin/sh
echo "job $PBS_JOBID ($PBS_JOBNAME) running on: $(uname -n), kernel $(uname -r)"
echo "as: $(id)"
echo "in: $(pwd)"
echo "input: $(wc -l < numbers.txt) numbers in $(pwd)/numbers.txt"
awk '{ s += $1 } END { print "sum", s }' numbers.txt > result.txt
echo "wrote $(pwd)/result.txt in the guest"
`;

async function main(): Promise<number> {
  const user = await ensureHostUser('vbdemo', 41001, 41002);
  const mom = await setupMom();
  // the submit directory, with the job's input, as the user made it on the node
  const workdir = join(user.home, 'demo-job');
  rmSync(workdir, { recursive: true, force: true });
  mkdirSync(workdir);
  writeFileSync(join(workdir, 'numbers.txt'), Array.from({ length: 10 }, (_, i) => `${i + 1}\n`).join(''));
  for (const p of [workdir, join(workdir, 'numbers.txt')]) chownSync(p, user.uid, user.gid);
  const job = { jobId: `${process.pid}.${hostname().split('.')[0]}`, user, jobName: 'demo', workdir };
  const line = (s = '') => process.stdout.write(s + '\n');
  try {
    const script = writeJobScript(mom, job, sample);
    line(`host ${hostname()}: job ${job.jobId} of user ${user.user} (uid ${user.uid}, gid ${user.gid})`);
    const t0 = performance.now();
    const pro = await runPrologue(mom, job, script);
    const t1 = performance.now();
    if (pro.exitCode !== 0) {
      line(`prologue failed with exit ${pro.exitCode}:\n${pro.stderr}`);
      await runEpilogue(mom, job, script, -2);
      return 1;
    }
    const run = await runJobStarter(mom, job, script);
    const t2 = performance.now();
    const epi = await runEpilogue(mom, job, script, run.exitCode);
    const t3 = performance.now();
    line('\n--- job output (from inside the guest) ---');
    line(run.stdout);
    if (run.stderr) line(run.stderr);
    line(`--- job exit status ${run.exitCode} ---\n`);
    const result = join(workdir, 'result.txt');
    const owner = statSync(result, { throwIfNoEntry: false });
    line(owner ? `on the node, ${result} (uid ${owner.uid}, gid ${owner.gid}, mode ${(owner.mode & 0o777).toString(8)}):\n${readFileSync(result, 'utf8')}` : `on the node, ${result} is missing`);
    const ready =
      readFileSync(mom.logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('msg="ready"')) ?? '';
    const phases = Object.fromEntries([...ready.matchAll(/ (parse|disks|iso|keys|shares|create|rootssh|ready)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])])) as Record<string, number>;
    line('timings (ms):');
    for (const [phase, ms] of Object.entries(phases)) line(`  prologue ${phase.padEnd(8)} ${ms.toFixed(1).padStart(8)}`);
    line(`  prologue total    ${(t1 - t0).toFixed(1).padStart(8)}`);
    line(`  job (remoteshell) ${(t2 - t1).toFixed(1).padStart(8)}`);
    line(`  epilogue          ${(t3 - t2).toFixed(1).padStart(8)}`);
    const left = await leftovers(mom);
    line(`\nafter the epilogue: ${left.domains.filter((d) => d.includes(job.jobId)).length} domain(s), ${left.jobs.length} job dir(s) left`);
    line('\nto install vmbatch on a node (README, "Install on a node"): make deb && apt-get install ./vmbatch_*_all.deb && vmbatch install-hooks torque && vmbatch doctor');
    return epi.exitCode === 0 && run.exitCode === 0 && owner !== undefined ? 0 : 1;
  } finally {
    teardownMom(mom);
  }
}

process.exit(await main());
