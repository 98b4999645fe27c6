// A whole job through qemu:///system with the real test guest, driven as pbs_mom drives hooks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { waitForFs } from '../helpers/wait-for-fs.js';
import { spawn } from 'node:child_process';
import { generateKeyPair } from '../../src/context/keys.js';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { testGuestDir } from '../helpers/paths.js';
import {
  interactiveScriptPath,
  leftovers,
  pelogPermissionProblem,
  runEpilogue,
  runInteractiveJobStarter,
  runJobStarter,
  runPrologue,
  setupMom,
  teardownMom,
  writeJobScript,
  type Mom,
} from '../torque/pbs-mom.js';
import type { QemuImgJson } from '../helpers/qemu-img-json.js';

let mom: Mom;
let user: HostUser;
let before: string[];

test.before(async () => {
  // ids that no guest image has by default, so the guest must really create this user
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom();
  before = (await leftovers(mom)).domains;
});
test.after(() => teardownMom(mom));

const jobScript = `#!/bin/sh
echo "host=$(uname -n)"
echo "uid=$(id -u) gid=$(id -g) user=$(id -un)"
echo "jobid=$PBS_JOBID env=$PBS_ENVIRONMENT pwd=$(pwd)"
echo "to stderr" >&2
echo data > "$HOME/result.txt"
exit 3
`;

test('installed hooks meet pbs_mom permission rules', () => {
  assert.is(pelogPermissionProblem(`${mom.momPriv}/prologue`), undefined);
  assert.is(pelogPermissionProblem(`${mom.momPriv}/epilogue`), undefined);
  assert.is(statSync(`${mom.momPriv}/prologue`).mode & 0o777, 0o500);
  assert.is(statSync(mom.starter).mode & 0o777, 0o755);
});

test('a job runs in its own guest as the submitter, with its exit code, and leaves nothing behind', async () => {
  const job = { jobId: '101.vm', user };
  const script = writeJobScript(mom, job, jobScript);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  assert.is(pro.stderr, '');
  assert.ok((await leftovers(mom)).domains.includes('vmbatch-101.vm'));

  const run = await runJobStarter(mom, job, script);
  assert.is(run.stdout, `host=vmbatch-guest\nuid=31337 gid=31338 user=vbe2e\njobid=101.vm env=PBS_BATCH pwd=/home/vbe2e`);
  assert.is(run.stderr, 'to stderr');
  assert.is(run.exitCode, 3);

  const epi = await runEpilogue(mom, job, script, 3);
  assert.is(epi.exitCode, 0, epi.stderr);
  const left = await leftovers(mom);
  assert.equal(left, { domains: before, jobs: [], ports: [], attempts: [] });
  // the epilogue is idempotent: a second run (Torque retries) finds nothing and still succeeds
  assert.is((await runEpilogue(mom, job, script, 3)).exitCode, 0);
});

test('the base image is never written: every job gets its own copy-on-write overlay', async () => {
  const base = `${testGuestDir}/disk.qcow2`;
  const sum = async () => (await execa('sha256sum', [base])).stdout;
  const beforeSum = await sum();
  const job = { jobId: '102.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\nhead -c 1048576 /dev/zero > "$HOME/big"; ls -la "$HOME/big" | wc -l\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', `${mom.stateDir}/jobs/102.vm/disk-vda.qcow2`])).stdout) as QemuImgJson;
  assert.is(info['backing-filename'], base);
  const run = await runJobStarter(mom, job, script);
  assert.is(run.stdout, '1');
  await runEpilogue(mom, job, script, 0);
  assert.is(await sum(), beforeSum);
});

test('the remoteshell of an unprepared job says so, exit 255', async () => {
  const job = { jobId: '103.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const run = await runJobStarter(mom, job, script);
  assert.is(run.exitCode, 255);
  assert.is(
    run.stderr,
    `vmbatch: JOB_NOT_PREPARED: job 103.vm has no prepared guest (nothing in ${mom.stateDir}/jobs/103.vm)\n` +
      "  hint: remoteshell runs only after the vmbatch prologue prepared the job; check that mom_priv/prologue is vmbatch's (under Slurm: that plugstack.conf names vmbatch.so, docs/slurm.md)",
  );
});

test('the per-job key is readable only by the submitter', async () => {
  const job = { jobId: '104.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  try {
    const key = statSync(`${mom.stateDir}/jobs/104.vm/user_key`);
    assert.is(key.uid, user.uid);
    assert.is(key.mode & 0o777, 0o600);
    assert.is(statSync(`${mom.stateDir}/jobs/104.vm/context.iso`).mode & 0o077, 0);
    assert.not.match(readFileSync(`${mom.stateDir}/jobs/104.vm/state.json`, 'utf8'), 'PRIVATE');
  } finally {
    await runEpilogue(mom, job, script, 0);
  }
  assert.not.ok(existsSync(`${mom.stateDir}/jobs/104.vm`));
});

test('an interactive job (qsub -I) has no script file, as with a real pbs_mom, and gets a shell on a terminal in the guest', async () => {
  const job = { jobId: '105.vm', user };
  const script = interactiveScriptPath(mom, job);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  assert.is(pro.stderr, '');
  assert.not.ok(existsSync(script), 'vmbatch creates nothing in mom_priv/jobs');
  try {
    const run = await runInteractiveJobStarter(mom, job, 'echo "tty=$(tty) uid=$(id -u) job=$PBS_JOBID"; exit 7\n');
    assert.match(run.stdout, 'tty=/dev/pts/0 uid=31337 job=105.vm');
    assert.is(run.exitCode, 7);
  } finally {
    await runEpilogue(mom, job, script, 7);
  }
});

test('pbs_mom refuses a hook that is group-writable, as check_pelog_permissions does', async () => {
  chmodSync(`${mom.momPriv}/prologue`, 0o520);
  try {
    const job = { jobId: '106.vm', user };
    const run = await runPrologue(mom, job, writeJobScript(mom, job, '#!/bin/sh\n'));
    assert.is(run.stderr, `pbs_mom: refusing prologue: ${mom.momPriv}/prologue is writable by group or others`);
  } finally {
    chmodSync(`${mom.momPriv}/prologue`, 0o500);
  }
});

test("remoteshell refuses a guest whose host key is not the job's (no trust on first use)", async () => {
  const job = { jobId: '107.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho should-not-run\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  try {
    const stateFile = `${mom.stateDir}/jobs/107.vm/state.json`;
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(stateFile, JSON.stringify({ ...state, hostPublicKey: generateKeyPair('impostor').publicKey }));
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 255);
    assert.is(run.stdout, '');
    assert.ok(
      run.stderr.startsWith(`vmbatch: SSH_FAILED: cannot reach the job's guest over SSH at vbe2e@${mom.stateDir}/jobs/107.vm/ssh.sock: the guest presented a host key that is not this job's\n`),
      run.stderr,
    );
  } finally {
    await runEpilogue(mom, job, script, 255);
  }
});

test('a prologue killed while the guest boots is cleaned up by the epilogue', async () => {
  const job = { jobId: '108.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\n');
  const jobDir = `${mom.stateDir}/jobs/108.vm`;
  const child = spawn(`${mom.momPriv}/prologue`, ['108.vm', user.user, user.group, 'STDIN', 'nodes=1', 'batch', '', script], {
    env: { PATH: '/bin:/usr/bin', PBS_O_WORKDIR: user.home },
    stdio: 'ignore',
  });
  // wait (by inotify) until the guest writes to its console: the domain is up, the prologue waits
  await waitForFs(mom.stateDir, () => existsSync(`${jobDir}/console.log`) && statSync(`${jobDir}/console.log`).size > 0);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok((await leftovers(mom)).domains.includes('vmbatch-108.vm'), 'the killed prologue left its guest running');
  assert.is((await runEpilogue(mom, job, script, -2)).exitCode, 0);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
