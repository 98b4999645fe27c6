// `make demo`: one whole job on this machine, played as Torque's pbs_mom plays it: the prologue
// boots a guest from domains/testguest.xml, the job runs in it as an ordinary user through
// remoteshell, the epilogue tears it down. Prints the job's output and each phase's time.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript } from '../test/torque/pbs-mom.js';

const sample = `#!/bin/sh
echo "job $PBS_JOBID ($PBS_JOBNAME) running on: $(uname -n), kernel $(uname -r)"
echo "as: $(id)"
echo "in: $(pwd)"
echo "disk: $(df -h "$HOME" | tail -1)"
`;

async function main(): Promise<number> {
  const user = await ensureHostUser('vbdemo', 41001, 41002);
  const mom = await setupMom();
  const job = { jobId: `${process.pid}.${hostname().split('.')[0]}`, user, jobName: 'demo' };
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
    const ready = readFileSync(mom.logFile, 'utf8').split('\n').find((l) => l.includes('msg="ready"')) ?? '';
    const phases: Record<string, number> = Object.fromEntries([...ready.matchAll(/ (parse|disks|iso|keys|create|rootssh|ready)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
    line('timings (ms):');
    for (const [phase, ms] of Object.entries(phases)) line(`  prologue ${phase.padEnd(8)} ${ms.toFixed(1).padStart(8)}`);
    line(`  prologue total    ${(t1 - t0).toFixed(1).padStart(8)}`);
    line(`  job (remoteshell) ${(t2 - t1).toFixed(1).padStart(8)}`);
    line(`  epilogue          ${(t3 - t2).toFixed(1).padStart(8)}`);
    const left = await leftovers(mom);
    line(`\nafter the epilogue: ${left.domains.filter((d) => d.includes(job.jobId)).length} domain(s), ${left.jobs.length} job dir(s) left`);
    return epi.exitCode === 0 && run.exitCode === 0 ? 0 : 1;
  } finally {
    teardownMom(mom);
  }
}

main().then((code) => process.exit(code));
