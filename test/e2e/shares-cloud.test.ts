// The job's working directory shared into the cloud-init guest (Debian 12, real cloud-init):
// through the Torque hooks and qemu:///system, a job submitted from a directory below the home
// and one submitted from the home itself (the SSH key then lives in a guest-private login home).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { domainsDir } from '../helpers/paths.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let mom: Mom;
let before: string[];
let workdir: string;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ config: { prologueBudgetSeconds: 280, defaultDomain: 'cloudguest' } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(mom.domainsDir, 'cloudguest.xml'));
  // a fresh directory of the user's below their home, with an input file
  workdir = mkdtempSync(join(user.home, 'vbshare-cloud-'));
  chownSync(workdir, user.uid, user.gid);
  writeFileSync(join(workdir, 'input.txt'), 'input from the node\n', { mode: 0o644 });
  chownSync(join(workdir, 'input.txt'), user.uid, user.gid);
  before = (await leftovers(mom)).domains;
});
test.after(() => {
  teardownMom(mom);
  rmSync(workdir, { recursive: true, force: true });
});

// reads the input, writes a 0640 result and a subdirectory, and says where it runs
const jobBody = `#!/bin/sh
echo "pwd=$(pwd) home=$HOME user=$(id -un)"
cat input.txt
tr a-z A-Z < input.txt > result.txt && chmod 0640 result.txt
mkdir -p out/deeper && echo inner > out/deeper/file.txt
stat -c '%u:%g %a %n' result.txt out
`;

test('cloud-init guest: a job submitted from a directory below the home reads and writes it on the node', async () => {
  const job = { jobId: '8201.vm', user, workdir };
  const script = writeJobScript(mom, job, jobBody);
  const pro = await runPrologue(mom, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `pwd=${workdir} home=/home/vbe2e user=vbe2e\ninput from the node\n31337:31338 640 result.txt\n31337:31338 755 out`, run.stderr);
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
  const result = statSync(join(workdir, 'result.txt'));
  assert.equal([result.uid, result.gid, result.mode & 0o7777], [31337, 31338, 0o640]);
  assert.is(readFileSync(join(workdir, 'result.txt'), 'utf8'), 'INPUT FROM THE NODE\n');
  const inner = statSync(join(workdir, 'out', 'deeper', 'file.txt'));
  assert.equal([inner.uid, inner.gid], [31337, 31338]);
  assert.equal(readdirSync(workdir).sort(), ['input.txt', 'out', 'result.txt']);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('cloud-init guest: a job submitted from the home: the home is shared, the SSH login uses the guest-private login home', async () => {
  const job = { jobId: '8202.vm', user };
  const name = `vbshare-cloud-home-${process.pid}.txt`;
  const script = writeJobScript(mom, job, `#!/bin/sh\necho "pwd=$(pwd) home=$HOME"\necho "login=$(getent passwd vbe2e | cut -d: -f6)"\necho written > ${name}\nchmod 0640 ${name}\ncat ${workdir.slice(user.home.length + 1)}/input.txt\n`);
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
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
