// The job's working directory shared into the cloud-init guest (Debian 12, real cloud-init):
// through the Torque hooks and qemu:///system, a job submitted from a directory below the home
// and one submitted from the home itself (the SSH key then lives in a guest-private login home).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { domainsDir } from '../helpers/paths.js';
import { runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { assertWritten, freshWorkdir, leftoversOf, readWriteJob, shareDaemonsOf } from '../helpers/share-jobs.js';

let user: HostUser;
let mom: Mom;
let workdir: string;
const scratch = '/srv/vbscratch';

// this file's jobs only (82xx): other tests' guests share qemu:///system
const mine = (node: Mom) => leftoversOf(node, /^vmbatch-82\d\d\.vm$/);
const nothingLeft = { domains: [], jobs: [], ports: [], attempts: [] };

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ config: { prologueBudgetSeconds: 280, defaultDomain: 'cloudguest', shares: { allowedPaths: [scratch] } } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(mom.domainsDir, 'cloudguest.xml'));
  // the working directory read-only, and the site's scratch directory (root's, 1777) read-write
  const cloud = readFileSync(join(domainsDir, 'cloudguest.xml'), 'utf8');
  writeFileSync(join(mom.domainsDir, 'cloudro.xml'), cloud.replace("<vbshare source='workdir' mode='rw'/>", `<vbshare source='workdir' mode='ro'/>\n    <vbshare source='${scratch}' mode='rw'/>`));
  mkdirSync(scratch, { recursive: true });
  chownSync(scratch, 0, 0);
  chmodSync(scratch, 0o1777);
  // a fresh directory of the user's below their home, with an input file
  workdir = freshWorkdir(user, 'vbshare-cloud-');
});
test.after(() => {
  teardownMom(mom);
  rmSync(workdir, { recursive: true, force: true });
});

test('cloud-init guest: a job submitted from a directory below the home reads and writes it on the node', async () => {
  const job = { jobId: '8201.vm', user, workdir };
  const script = writeJobScript(mom, job, readWriteJob);
  const pro = await runPrologue(mom, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `pwd=${workdir} home=/home/vbe2e user=vbe2e\ninput from the node\n31337:31338 640 result.txt\n31337:31338 755 out`, run.stderr);
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
  assertWritten(workdir);
  assert.equal(await mine(mom), nothingLeft);
  assert.equal(shareDaemonsOf(workdir), [], 'no share daemon outlives its job');
});

test('cloud-init guest: a job submitted from the home: the home is shared, the SSH login uses the guest-private login home', async () => {
  const job = { jobId: '8202.vm', user };
  const name = `vbshare-cloud-home-${process.pid}.txt`;
  const script = writeJobScript(
    mom,
    job,
    `#!/bin/sh\necho "pwd=$(pwd) home=$HOME"\necho "login=$(getent passwd vbe2e | cut -d: -f6)"\necho written > ${name}\nchmod 0640 ${name}\ncat ${workdir.slice(user.home.length + 1)}/input.txt\n`,
  );
  const pro = await runPrologue(mom, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, 'pwd=/home/vbe2e home=/home/vbe2e\nlogin=/var/lib/vmbatch-login/vbe2e\ninput from the node', run.stderr);
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
  const file = join(user.home, name);
  const st = statSync(file);
  rmSync(file);
  assert.equal([st.uid, st.gid, st.mode & 0o7777], [31337, 31338, 0o640]);
  assert.equal(await mine(mom), nothingLeft);
});

test("cloud-init guest: a read-only working directory (EROFS, the node's copy unchanged) beside a read-write site path", async () => {
  const job = { jobId: '8203.vm', user, workdir, resources: 'other=vbdomain=cloudro' };
  const name = `vbe2e-8203-${process.pid}.txt`;
  const listing = () =>
    readdirSync(workdir, { recursive: true, encoding: 'utf8' })
      .sort()
      .map((n) => `${n} ${statSync(join(workdir, n)).mtimeMs}`);
  const was = listing();
  const script = writeJobScript(
    mom,
    job,
    `#!/bin/sh\necho "pwd=$(pwd) home=$HOME"\ncat input.txt\necho new > new.txt || echo "create refused"\necho scratch > ${scratch}/${name} && chmod 0640 ${scratch}/${name}\nstat -c '%u:%g %a' ${scratch}/${name}\n`,
  );
  const pro = await runPrologue(mom, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `pwd=${workdir} home=/home/vbe2e\ninput from the node\ncreate refused\n31337:31338 640`, run.stderr);
    assert.is(run.stderr, '/var/spool/vmbatch/jobs/8203.vm.SC: 4: cannot create new.txt: Read-only file system');
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
  assert.equal(listing(), was);
  const st = statSync(join(scratch, name));
  rmSync(join(scratch, name));
  assert.equal([st.uid, st.gid, st.mode & 0o7777], [31337, 31338, 0o640]);
  assert.equal(await mine(mom), nothingLeft);
  assert.equal([shareDaemonsOf(workdir), shareDaemonsOf(scratch)], [[], []], 'no share daemon outlives its job');
});

test.run();
