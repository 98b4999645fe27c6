import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { channelExitStatus } from '../../src/remoteshell/ssh-session.js';
import { guestJobCommand, guestNodeFileLines, jobEnvironment } from '../../src/remoteshell/job-command.js';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

test('only the PBS_* environment of the job goes to the guest', () => {
  assert.equal(jobEnvironment({ PBS_JOBID: '2.vm', PBS_O_WORKDIR: '/home/u', HOME: '/home/u', PATH: '/bin', pbs_x: 'no' }), { PBS_JOBID: '2.vm', PBS_O_WORKDIR: '/home/u' });
});

test("a Slurm task carries Slurm's SLURM_* variables instead", () => {
  assert.equal(jobEnvironment({ SLURM_JOB_ID: '900001', SLURM_PROCID: '1', PBS_JOBID: '2.vm', VMBATCH_TASK_ARGV0: 'echo', PATH: '/bin' }, 'SLURM'), { SLURM_JOB_ID: '900001', SLURM_PROCID: '1' });
});

test('a Slurm task runs its own command after its prelude (the batch script received on stdin), quoted, keeping the status', () => {
  assert.is(
    guestJobCommand({ workdir: '/home/u/run', env: { SLURM_JOB_ID: '900001' }, run: { prelude: ['vmbatch_script=$(mktemp)'], command: `"$vmbatch_script" 'two words'` } }),
    ['vmbatch_script=$(mktemp)', 'cd /home/u/run 2>/dev/null || cd', 'export SLURM_JOB_ID=900001', `"$vmbatch_script" 'two words'`, 'vmbatch_rc=$?', 'sync', 'exit $vmbatch_rc'].join('\n'),
  );
});

test('the batch command enters the workdir, exports, runs the script, syncs and keeps the status', () => {
  assert.is(
    guestJobCommand({ workdir: "/home/o'brien", env: { PBS_JOBID: '2.vm', PBS_JOBNAME: 'a b' }, script: '/var/spool/vmbatch/jobs/2.vm.SC' }),
    ["cd '/home/o'\\''brien' 2>/dev/null || cd", 'export PBS_JOBID=2.vm', "export PBS_JOBNAME='a b'", '/var/spool/vmbatch/jobs/2.vm.SC', 'vmbatch_rc=$?', 'sync', 'exit $vmbatch_rc'].join('\n'),
  );
  // an interactive job's login shell, then the same sync (what the user saved as changes reaches the disk)
  assert.match(guestJobCommand({ workdir: undefined, env: {} }), /\n"\$\{SHELL:-\/bin\/sh\}" -l\nvmbatch_rc=\$\?\nsync\nexit \$vmbatch_rc$/);
});

test('with runtime environments: their settings are exported, runtime stage 1 before the job and 2 after it', () => {
  const rte = { exports: ['JAVA_HOME=/opt/vmbatch/rte/ENV/JRE/pkg'], runtimes: ['/opt/vmbatch/rte/ENV/JRE/control/runtime', '/opt/vmbatch/rte/APPS/WEKA/control/runtime'] };
  assert.is(
    guestJobCommand({ workdir: '/home/u', env: {}, script: '/jobs/2.vm.SC', rte }),
    [
      'cd /home/u 2>/dev/null || cd',
      'export JAVA_HOME=/opt/vmbatch/rte/ENV/JRE/pkg',
      "set -- 1; . /opt/vmbatch/rte/ENV/JRE/control/runtime || { printf 'vmbatch: %s 1 failed\\n' /opt/vmbatch/rte/ENV/JRE/control/runtime >&2; exit 1; }",
      "set -- 1; . /opt/vmbatch/rte/APPS/WEKA/control/runtime || { printf 'vmbatch: %s 1 failed\\n' /opt/vmbatch/rte/APPS/WEKA/control/runtime >&2; exit 1; }",
      '/jobs/2.vm.SC',
      'vmbatch_rc=$?',
      'set -- 2; . /opt/vmbatch/rte/ENV/JRE/control/runtime || true',
      'set -- 2; . /opt/vmbatch/rte/APPS/WEKA/control/runtime || true',
      'sync',
      'exit $vmbatch_rc',
    ].join('\n'),
  );
});

test('exit statuses: codes pass through, signals become 128+n as in a shell', () => {
  assert.is(channelExitStatus(3, undefined), 3);
  assert.is(channelExitStatus(null, 'KILL'), 137);
  assert.is(channelExitStatus(null, 'SIGTERM'), 143);
  assert.is(channelExitStatus(undefined, undefined), 255);
});

test("with the guest's vCPUs: PBS_NP and PBS_NUM_PPN count them, and PBS_NODEFILE names a node file made in the guest", () => {
  const lines = guestNodeFileLines(2);
  assert.equal(lines, [
    'export PBS_NP=2 PBS_NUM_PPN=2 PBS_NUM_NODES=1',
    'if vmbatch_nodefile=$(mktemp "${TMPDIR:-/tmp}/vmbatch-nodefile.XXXXXX") && (vmbatch_n=0; while [ "$vmbatch_n" -lt 2 ]; do uname -n; vmbatch_n=$((vmbatch_n + 1)); done) > "$vmbatch_nodefile"; then export PBS_NODEFILE="$vmbatch_nodefile"; else unset PBS_NODEFILE; echo \'vmbatch: cannot write the node file in the guest; PBS_NODEFILE is unset\' >&2; fi',
  ]);
  // after the job's own PBS_* (pbs_mom's host values), so the guest's win
  const command = guestJobCommand({ workdir: '/home/u', env: { PBS_NP: '1', PBS_NODEFILE: '/var/spool/torque/aux//2.vm' }, script: '/jobs/2.vm.SC', vcpus: 2 });
  assert.is(command.split('\n').slice(1, 5).join('\n'), ['export PBS_NP=1', 'export PBS_NODEFILE=/var/spool/torque/aux//2.vm', ...lines].join('\n'));
  // without the count (a state written by an older prologue) the environment is left as it came
  assert.not.match(guestJobCommand({ workdir: '/home/u', env: {}, script: '/jobs/2.vm.SC' }), 'PBS_NODEFILE');
});

test('the node file lines run in a POSIX shell: the host name once per vCPU, in a fresh file; no file, no PBS_NODEFILE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-nodefile-'));
  try {
    const script = join(dir, 'job.sh');
    writeFileSync(script, '#!/bin/sh\necho "np=$PBS_NP ppn=$PBS_NUM_PPN nodes=$PBS_NUM_NODES file=${PBS_NODEFILE:-unset}"\ncat "$PBS_NODEFILE"\n', { mode: 0o755 });
    const command = guestJobCommand({ workdir: dir, env: { PBS_NP: '1', PBS_NODEFILE: '/nonexistent' }, script, vcpus: 3 });
    const run = await execa('sh', ['-c', command], { env: { TMPDIR: dir }, reject: false });
    const name = hostname();
    assert.match(run.stdout, new RegExp(`^np=3 ppn=3 nodes=1 file=${dir}/vmbatch-nodefile\\.\\w{6}\\n${name}\\n${name}\\n${name}$`));
    const broken = await execa('sh', ['-c', command], { env: { TMPDIR: join(dir, 'missing') }, reject: false });
    assert.is(broken.stdout.split('\n')[0], 'np=3 ppn=3 nodes=1 file=unset');
    assert.match(broken.stderr, 'vmbatch: cannot write the node file in the guest; PBS_NODEFILE is unset');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
