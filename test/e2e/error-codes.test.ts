// Error codes through their real paths (issue 12 item 14): the hooks as pbs_mom runs them, real
// libvirt, real guests. Each asserts the exact text, the exit code, and that nothing is left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { domainsDir } from '../helpers/paths.js';
import { jobStarterEnv, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, updateMomConfig, writeJobScript, type Mom, type JobSpec } from '../torque/pbs-mom.js';

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
let user: HostUser;
let mom: Mom;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({
    domains: {
      // libvirt has no such emulator: virsh create refuses the domain
      noemulator: shipped.replace('<devices>', '<devices>\n    <emulator>/usr/bin/qemu-system-nonexistent</emulator>'),
      // the guest has no /dev/ttyS9 to log the user in on: its prolog reports the failure
      noconsole: shipped.replace('</vbconfig>', "  <vbremoteshell mode='console' device='/dev/ttyS9'/>\n  </vbconfig>"),
      rootssh: shipped.replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>').replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, ''),
      // an empty VHD disk larger than the format holds: qemu-img refuses to make it
      hugevhd: shipped.replace(
        "<disk type='file' device='cdrom'>",
        "<disk type='file' device='disk'>\n      <driver name='qemu' type='vpc'/>\n      <vbdisksource source='scratch' size='3145728' create='always' format='vpc'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n    <disk type='file' device='cdrom'>",
      ),
    },
  });
});
test.after(() => teardownMom(mom));

// this file's jobs only: other helpers' guests share qemu:///system
const mine = async () => {
  const left = await leftovers(mom);
  return { ...left, domains: left.domains.filter((d) => /^vmbatch-76\d\d\.vm$/.test(d)) };
};
const nothingLeft = { domains: [], jobs: [], ports: [], attempts: [] };

// A prologue that fails: exit code, exact stderr, the submitter's notice, then the epilogue, and nothing left.
async function failingPrologue(job: JobSpec, expectedExit: 1 | 2): Promise<string> {
  const script = writeJobScript(mom, job, '#!/bin/sh\necho never\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, expectedExit, run.stderr);
  const notice = join(user.home, `vmbatch-${job.jobId}.err`);
  assert.is(readFileSync(notice, 'utf8'), run.stderr + '\n');
  rmSync(notice);
  assert.equal((await mine()).domains, [], 'the prologue destroyed its guest');
  assert.equal((await mine()).jobs, [], 'the prologue cleaned up after itself');
  assert.is((await runEpilogue(mom, job, script, -2)).exitCode, 0);
  assert.equal(await mine(), nothingLeft);
  return run.stderr;
}

test('CATALOGUE_NONE: a job asking for runtime environments on a node without catalogues is aborted (1)', async () => {
  const stderr = await failingPrologue({ jobId: '7620.vm', user, resources: 'other=vbrte=APPS/BIO/WEKA-3.4.10' }, 1);
  assert.is(
    stderr,
    'vmbatch: CATALOGUE_NONE: the job asks for runtime environments (APPS/BIO/WEKA-3.4.10), but this node has no software catalogue\n' +
      '  hint: submit without vbrte (--vm-rte under Slurm), or ask the site to list its catalogues in catalogue.sources (docs/catalogue.md)\n' +
      'vmbatch: job 7620.vm is aborted.',
  );
});

test("DOMAIN_CREATE_FAILED: a template libvirt refuses aborts the job (1) with libvirt's sentence", async () => {
  const stderr = await failingPrologue({ jobId: '7621.vm', user, resources: 'other=vbdomain=noemulator' }, 1);
  assert.is(
    stderr,
    'vmbatch: DOMAIN_CREATE_FAILED: libvirt refused to start vmbatch-7621.vm: Cannot check QEMU binary /usr/bin/qemu-system-nonexistent: No such file or directory\n' +
      '  hint: `vmbatch plan` prints the domain XML vmbatch hands to virsh; check it against the libvirt message\n' +
      'vmbatch: job 7621.vm is aborted.',
  );
});

test("GUEST_PROLOG_FAILED: a guest whose prolog reports failure aborts the job (1) with the guest's reason", async () => {
  const stderr = await failingPrologue({ jobId: '7622.vm', user, resources: 'other=vbdomain=noconsole' }, 1);
  assert.is(
    stderr,
    'vmbatch: GUEST_PROLOG_FAILED: the guest-side prolog of vmbatch-7622.vm failed: no console device /dev/ttyS9 for remoteshell\n' +
      '  hint: the guest could not be prepared for this job; docs/guest-contract.md says what the guest needs\n' +
      'vmbatch: job 7622.vm is aborted.',
  );
});

test('ROOT_SSH_KEYS_INVALID: a ROOTSSH template with a site key that is not a key aborts the job (1) before anything is made', async () => {
  const keyFile = join(mom.root, 'root_ssh_key');
  writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
  updateMomConfig(mom, { rootSsh: { privateKeyFile: keyFile, hostKeysFile: keyFile } });
  try {
    const stderr = await failingPrologue({ jobId: '7623.vm', user, resources: 'other=vbdomain=rootssh' }, 1);
    assert.is(
      stderr,
      `vmbatch: ROOT_SSH_KEYS_INVALID: the ROOTSSH key file ${keyFile} cannot be used: Unsupported key format\n` +
        '  hint: rootSsh.privateKeyFile: an unencrypted OpenSSH private key; rootSsh.hostKeysFile: OpenSSH public key lines (docs/admin.md)\n' +
        'vmbatch: job 7623.vm is aborted.',
    );
  } finally {
    updateMomConfig(mom, { rootSsh: {} });
  }
});

test('TOOL_FAILED: qemu-img refusing to make a created disk aborts the job (1) with its argv, exit code and message', async () => {
  const stderr = await failingPrologue({ jobId: '7624.vm', user, resources: 'other=vbdomain=hugevhd' }, 1);
  const disk = `${mom.stateDir}/jobs/7624.vm/disk-vdb.vhd`;
  assert.is(
    stderr,
    `vmbatch: TOOL_FAILED: qemu-img create -q -f vpc ${disk} 3145728M failed with exit code 1: qemu-img: ${disk}: The image size is too large for file format 'vpc'\n` +
      "  hint: the message above is the tool's own; fix what it names, then run the job again\n" +
      'vmbatch: job 7624.vm is aborted.',
  );
});

test('NOT_ROOT: the prologue run by another user than root is refused (1) before it reads anything of the job', async () => {
  // a site that runs pbs_mom unprivileged: the same installed hook, executed as the user
  const hook = join(mom.root, 'prologue-as-user');
  copyFileSync(join(mom.momPriv, 'prologue'), hook);
  chmodSync(hook, 0o755);
  const job = { jobId: '7625.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\n');
  const run = await execa(hook, [job.jobId, user.user, user.group, 'STDIN', 'walltime=00:05:00', 'batch', '', script], {
    uid: user.uid,
    gid: user.gid,
    cwd: '/',
    env: { PATH: '/bin:/usr/bin' },
    extendEnv: false,
    reject: false,
  });
  assert.is(run.exitCode, 1);
  assert.is(
    run.stderr,
    'vmbatch: NOT_ROOT: the prologue must run as root, as pbs_mom runs it\n' +
      '  hint: install it as mom_priv/prologue and mom_priv/epilogue with `vmbatch install-hooks torque` (owned by root, mode 0500)\n' +
      'vmbatch: the job is aborted.',
  );
  assert.equal(await mine(), nothingLeft);
});

test('JOB_ID_MISSING: $job_starter without PBS_JOBID refuses (255) and touches nothing', async () => {
  const job = { jobId: '7626.vm', user };
  const { PBS_JOBID: _, ...env } = jobStarterEnv(mom, job);
  const run = await execa('/bin/sh', ['-c', 'umask 077; exec "$0" "$@"', mom.starter, '/bin/bash'], {
    cwd: user.home,
    env,
    extendEnv: false,
    uid: user.uid,
    gid: user.gid,
    input: '/tmp/x.sh\n',
    reject: false,
  });
  assert.is(run.exitCode, 255);
  assert.is(
    run.stderr,
    'vmbatch: JOB_ID_MISSING: remoteshell cannot tell which job it runs: PBS_JOBID is not set\n' + "  hint: remoteshell is meant to be pbs_mom's $job_starter, which sets PBS_JOBID",
  );
  assert.equal(await mine(), nothingLeft);
});

test("JOB_SCRIPT_MISMATCH: $job_starter asked to run another script than the job's is refused (255); the job stays until its epilogue", async () => {
  const job = { jobId: '7627.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho hi\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const other = join(user.home, 'other.sh');
  writeFileSync(other, '#!/bin/sh\necho other\n');
  const run = await runJobStarter(mom, job, other);
  assert.is(run.exitCode, 255);
  assert.is(run.stdout, '', 'nothing ran in the guest');
  assert.is(
    run.stderr,
    `vmbatch: JOB_SCRIPT_MISMATCH: remoteshell was asked to run ${other}, but this job's script is ${script}\n` +
      '  hint: remoteshell runs the job script that the prologue installed in the guest; report this to the site admin',
  );
  rmSync(other);
  assert.is((await runEpilogue(mom, job, script, 255)).exitCode, 0);
  assert.equal(await mine(), nothingLeft);
});

test.run();
