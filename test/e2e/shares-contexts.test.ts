// Shared directories with every other way the test guest is prepared, through the Torque hooks
// and qemu:///system: ROOTSSH and DISK with the working directory shared read-write, a
// read-only share, a site path the node allows, and the refusal of one it does not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { makePartitionedImage } from '../helpers/partitioned-image.js';
import { domainsDir, repoRoot, testGuestDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, withMom, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';
import { freshWorkdir as freshUserWorkdir, assertWritten, leftoversOf, readWriteJob, shareDaemonsOf } from '../helpers/share-jobs.js';

let user: HostUser;
let mom: Mom;
const workdirs: string[] = [];
const scratch = '/srv/vbscratch';
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const withoutCdrom = (xml: string) => xml.replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '');
const rootSshTemplate = withoutCdrom(shipped.replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>'));
const readOnlyTemplate = shipped.replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='ro'/>");
const homeTemplate = shipped.replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='rw'/>\n    <vbshare source='home' mode='ro'/>");
const siteTemplate = shipped.replace("<vbshare source='workdir' mode='rw'/>", `<vbshare source='workdir' mode='rw'/>\n    <vbshare source='${scratch}' mode='rw'/>`);

// this file's jobs only (82xx): other tests' guests share qemu:///system
const mine = (node: Mom) => leftoversOf(node, /^vmbatch-82\d\d\.vm$/);
const nothingLeft = { domains: [], jobs: [], ports: [], attempts: [] };

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  // the site's scratch directory: root's, sticky and writable by all, as /tmp
  mkdirSync(scratch, { recursive: true });
  chownSync(scratch, 0, 0);
  chmodSync(scratch, 0o1777);
  const image = '/tmp/vmbatch-shares-partitioned.qcow2';
  await makePartitionedImage(image, [
    { sizeMiB: 16, label: 'vbhome' },
    { sizeMiB: 16, label: 'vbroot' },
    { sizeMiB: 8, label: 'vbjobs' },
  ]);
  const diskTemplate = withoutCdrom(shipped.replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>DISK</vbpreparemethod>'))
    .replace('/var/lib/vmbatch/guest/disk.qcow2', image)
    .replace('<devices>', "<devices>\n    <vbdisks>\n      <vbdisk name='rootdisk' dev='vda' partition='vda2'/>\n      <vbdisk name='jobdisk' dev='vda' partition='vda3'/>\n    </vbdisks>");
  mom = await setupMom({
    domains: { rootssh: rootSshTemplate, disk: diskTemplate, readonly: readOnlyTemplate, site: siteTemplate, home: homeTemplate },
    config: { rootSsh: { privateKeyFile: `${testGuestDir}/root_ssh_key`, hostKeysFile: `${testGuestDir}/guest_host_key.pub` }, shares: { allowedPaths: [scratch] } },
  });
});
test.after(() => {
  teardownMom(mom);
  rmSync('/tmp/vmbatch-shares-partitioned.qcow2', { force: true });
  rmSync('/tmp/vmbatch-shares-partitioned.qcow2.layout', { force: true });
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
});

// A fresh directory of the user's below their home, holding input.txt.
function freshWorkdir(): string {
  const dir = freshUserWorkdir(user, 'vbshare-');
  workdirs.push(dir);
  return dir;
}

// Runs a job that must succeed; returns its output and checks that nothing of it is left.
async function runJob(job: JobSpec, body: string, node: Mom = mom): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const script = writeJobScript(node, job, body);
  const pro = await runPrologue(node, job, script);
  let run = { stdout: '', stderr: '', exitCode: -1 };
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    assert.is(pro.stderr, '');
    run = await runJobStarter(node, job, script);
  } finally {
    assert.is((await runEpilogue(node, job, script, run.exitCode)).exitCode, 0);
  }
  assert.equal(await mine(node), nothingLeft);
  if (job.workdir) assert.equal(shareDaemonsOf(job.workdir), [], 'no share daemon outlives its job');
  return run;
}

test('ROOTSSH: prolog.sh run over the root login mounts the working directory; the job reads and writes it on the node', async () => {
  const workdir = freshWorkdir();
  const run = await runJob({ jobId: '8211.vm', user, workdir, resources: 'other=vbdomain=rootssh' }, readWriteJob);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, `pwd=${workdir} home=/home/vbe2e user=vbe2e\ninput from the node\n31337:31338 640 result.txt\n31337:31338 755 out`, run.stderr);
  assertWritten(workdir);
});

test('DISK: the context written into the per-job disk mounts the working directory; the job reads and writes it on the node', async () => {
  const workdir = freshWorkdir();
  const run = await runJob({ jobId: '8212.vm', user, workdir, resources: 'other=vbdomain=disk' }, readWriteJob);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, `pwd=${workdir} home=/home/vbe2e user=vbe2e\ninput from the node\n31337:31338 640 result.txt\n31337:31338 755 out`, run.stderr);
  assertWritten(workdir);
});

// Names, sizes, modes, owners and modification times of everything below a directory.
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
    });
}

test("a read-only share (mode='ro'): the job reads its files, every write fails with EROFS, the node's copy is unchanged", async () => {
  const workdir = freshWorkdir();
  const was = snapshot(workdir);
  const body = `#!/bin/sh
echo "pwd=$(pwd)"
cat input.txt
echo more >> input.txt || echo "append refused"
echo new > result.txt || echo "create refused"
mkdir out || echo "mkdir refused"
rm input.txt || echo "remove refused"
grep " $(pwd) " /proc/mounts | cut -d' ' -f3,4 | cut -d, -f1
`;
  const run = await runJob({ jobId: '8213.vm', user, workdir, resources: 'other=vbdomain=readonly' }, body);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, `pwd=${workdir}\ninput from the node\nappend refused\ncreate refused\nmkdir refused\nremove refused\nvirtiofs ro`);
  assert.is(
    run.stderr,
    "/var/spool/vmbatch/jobs/8213.vm.SC: line 4: can't create input.txt: Read-only file system\n" +
      "/var/spool/vmbatch/jobs/8213.vm.SC: line 5: can't create result.txt: Read-only file system\n" +
      "mkdir: can't create directory 'out': Read-only file system\n" +
      "rm: can't remove 'input.txt': Read-only file system",
  );
  assert.equal(snapshot(workdir), was);
});

test("a site path the node allows (shares.allowedPaths) is shared beside the working directory; what the job writes there is the user's", async () => {
  const workdir = freshWorkdir();
  const name = `vbe2e-8214-${process.pid}.txt`;
  const body = `#!/bin/sh\necho "pwd=$(pwd)"\ncat input.txt\necho scratch > ${scratch}/${name} && chmod 0640 ${scratch}/${name}\nstat -c '%u:%g %a' ${scratch}/${name}\n`;
  try {
    const run = await runJob({ jobId: '8214.vm', user, workdir, resources: 'other=vbdomain=site' }, body);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `pwd=${workdir}\ninput from the node\n31337:31338 640`, run.stderr);
    assert.equal(shareDaemonsOf(scratch), [], 'no share daemon outlives its job');
    const st = statSync(join(scratch, name));
    assert.equal([st.uid, st.gid, st.mode & 0o7777], [31337, 31338, 0o640]);
    assert.is(readFileSync(join(scratch, name), 'utf8'), 'scratch\n');
  } finally {
    rmSync(join(scratch, name), { force: true });
  }
});

test("the home shared read-only with the working directory read-write inside it: the job reads the node's home, cannot write it, writes its results", async () => {
  const workdir = freshWorkdir();
  const name = `home-8216-${process.pid}.txt`;
  writeFileSync(join(user.home, name), 'from the home\n', { mode: 0o644 });
  chownSync(join(user.home, name), user.uid, user.gid);
  try {
    const body = `#!/bin/sh\ncat "$HOME/${name}"\ntouch "$HOME/new-${name}" 2>&1 | sed 's/^.*: //'\n${readWriteJob.split('\n').slice(1).join('\n')}`;
    const run = await runJob({ jobId: '8216.vm', user, workdir, resources: 'other=vbdomain=home' }, body);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `from the home\nRead-only file system\npwd=${workdir} home=/home/vbe2e user=vbe2e\ninput from the node\n31337:31338 640 result.txt\n31337:31338 755 out`, run.stderr);
    assertWritten(workdir);
    assert.not.ok(existsSync(join(user.home, `new-${name}`)));
    assert.equal(shareDaemonsOf(user.home), [], 'no share daemon outlives its job');
  } finally {
    rmSync(join(user.home, name), { force: true });
  }
});

test('a site path the node does not allow: the job is aborted with SHARE_NOT_ALLOWED before anything is made, nothing left', async () => {
  await withMom({ domains: { site: siteTemplate } }, async (node) => {
    const workdir = freshWorkdir();
    const job = { jobId: '8215.vm', user, workdir, resources: 'other=vbdomain=site' };
    const script = writeJobScript(node, job, '#!/bin/sh\necho never\n');
    const pro = await runPrologue(node, job, script);
    assert.is(pro.exitCode, 1, pro.stderr);
    const expected =
      `vmbatch: SHARE_NOT_ALLOWED: domain template ${node.domainsDir}/site.xml shares ${scratch}, which the site does not allow (shares.allowedPaths: none)\n` +
      '  hint: add the directory to shares.allowedPaths in /etc/vmbatch/vmbatch.json, or remove the <vbshare> from the template (docs/admin.md, "Shared directories")\n' +
      'vmbatch: job 8215.vm is aborted.';
    assert.is(pro.stderr, expected);
    // the submitter's notice, in the working directory, says the same
    const notice = join(workdir, 'vmbatch-8215.vm.err');
    assert.is(readFileSync(notice, 'utf8'), `${expected}\n`);
    assert.is(statSync(notice).uid, user.uid);
    rmSync(notice);
    assert.equal((await leftovers(node)).jobs, [], 'the prologue cleans up after itself');
    assert.is((await endFailedJob(node, job, script)).exitCode, 0);
    assert.equal(await mine(node), nothingLeft);
    assert.equal(readdirSync(workdir), ['input.txt']);
    assert.not.ok(existsSync(join(scratch, 'never')));
  });
});

test("`vmbatch plan --workdir DIR` shows the shares, their daemons' sockets and the domain's <filesystem>s; makes nothing", async () => {
  const job = { jobId: '8220.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const plan = (...extra: string[]) =>
    execa(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'plan', job.jobId, user.user, user.group, script, ...extra], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
  const run = await plan('--workdir', '/home/vbe2e/project/', '--resources', 'other=vbdomain=site');
  assert.is(run.exitCode, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { shares: unknown; domainXml: string };
  const dir = join(mom.stateDir, 'jobs', '8220.vm');
  const share = (i: number, what: string, path: string) => ({
    what,
    path,
    mode: 'rw',
    tag: `vbshare${i}`,
    socket: `${dir}/share-${i}.sock`,
    pidFile: `${dir}/share-${i}.pid`,
    logFile: `${dir}/share-${i}.log`,
  });
  // parents first: /srv/vbscratch has fewer components than /home/vbe2e/project
  assert.equal(out.shares, { shared: [share(0, 'site', scratch), share(1, 'workdir', '/home/vbe2e/project')], workdir: '/home/vbe2e/project', home: '/home/vbe2e', loginHome: '/home/vbe2e' });
  assert.match(out.domainXml, '<memoryBacking>\n    <source type="memfd"/>\n    <access mode="shared"/>\n  </memoryBacking>');
  for (const i of [0, 1]) {
    assert.match(
      out.domainXml,
      `<filesystem type="mount">\n      <driver type="virtiofs" queue="1024"/>\n      <source socket="${dir}/share-${i}.sock"/>\n      <target dir="vbshare${i}"/>\n    </filesystem>`,
    );
  }
  // submitted from the home: the home is shared, the SSH key goes to the guest-private login home
  const home = JSON.parse((await plan('--workdir', '/home/vbe2e')).stdout) as { shares: { loginHome: string; shared: { path: string }[] } };
  assert.equal([home.shares.shared.map((s) => s.path), home.shares.loginHome], [['/home/vbe2e'], '/var/lib/vmbatch-login/vbe2e']);
  const bad = await plan('--workdir', '/etc/vbe2e');
  assert.is(bad.exitCode, 1);
  assert.is(
    bad.stderr,
    "vmbatch: WORKDIR_INVALID: the job's working directory '/etc/vbe2e' cannot be given to its guest: it is inside /etc, a directory the guest's own system needs\n" +
      '  hint: submit the job from a directory of yours, e.g. cd ~/myjob && qsub job.sh (docs/submitters.md, "Your files in the guest")',
  );
  assert.not.ok(existsSync(dir), 'a dry run makes nothing');
});

test.run();
