// Contextualization end to end with the real test guest: tar files unpacked onto the context
// volume by the host (option='cdrom') and shipped to be unpacked in the guest; unsafe archives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { makeTar } from '../helpers/make-tar.js';
import { makePartitionedImage } from '../helpers/partitioned-image.js';
import { createHash } from 'node:crypto';
import { domainsDir, testGuestDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, updateMomConfig, withMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let mom: Mom;
let before: string[];
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const withTars = (tars: string) => shipped.replace('</vbconfig>', `  <vbtarfiles>\n${tars}\n    </vbtarfiles>\n  </vbconfig>`);

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({
    domains: {
      tars: withTars(
        "      <vbtarfile tarfile='site.tar.gz' path='extra' strip='1' option='cdrom'/>\n      <vbtarfile tarfile='app.tar' path='myapp' strip='1'/>\n      <vbtarfile tarfile='tools.tar' path='/opt/tools'/>",
      ),
      eviltar: withTars("      <vbtarfile tarfile='evil.tar' path='.'/>"),
    },
  });
  const contextDir = join(mom.root, 'context');
  mkdirSync(contextDir);
  await makeTar(
    join(contextDir, 'site.tar.gz'),
    [
      { name: 'bundle/motd.txt', content: 'site bundle\n' },
      { name: 'bundle/prolog.sh', content: 'echo not vmbatch\n' },
    ],
    true,
  );
  await makeTar(join(contextDir, 'app.tar'), [{ name: 'app-1.0/bin/run.sh', content: 'echo "app runs as $(id -un)"\n', mode: 0o755 }]);
  await makeTar(join(contextDir, 'tools.tar'), [{ name: 'tool.txt', content: 'tool\n' }]);
  await makeTar(join(contextDir, 'evil.tar'), [
    { name: 'ok.txt', content: 'ok' },
    { name: '../../etc/profile.d/evil.sh', content: 'evil' },
  ]);
  updateMomConfig(mom, { contextFilesDir: contextDir });
  before = (await leftovers(mom)).domains;
});
test.after(() => teardownMom(mom));

test("tar files: option='cdrom' lands on the context volume, the others are unpacked in the guest", async () => {
  // submitted from a directory below the home: the home in the guest is the guest's own (a job
  // submitted from its home shares it, and relative tar files go to the guest's login home)
  const workdir = join(user.home, 'tars-job');
  mkdirSync(workdir, { recursive: true });
  chownSync(workdir, user.uid, user.gid);
  const job = { jobId: '501.vm', user, resources: 'other=vbdomain=tars', workdir };
  const script = writeJobScript(mom, job, '#!/bin/sh\nsh $HOME/myapp/bin/run.sh\nstat -c "%u:%g %n" $HOME/myapp/bin/run.sh /opt/tools/tool.txt\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const iso = join(mom.stateDir, 'jobs', job.jobId, 'context.iso');
  const fromIso = async (path: string) => (await execa('isoinfo', ['-R', '-i', iso, '-x', path])).stdout;
  assert.is(await fromIso('/extra/motd.txt'), 'site bundle', 'unpacked with one component stripped');
  assert.match(await fromIso('/prolog.sh'), 'vmbatch guest prolog', "an archive cannot replace vmbatch's own files");
  const run = await runJobStarter(mom, job, script);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, 'app runs as vbe2e\n31337:31338 /home/vbe2e/myapp/bin/run.sh\n0:0 /opt/tools/tool.txt');
  assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('an archive with an entry outside its target aborts the job before anything is made', async () => {
  const job = { jobId: '502.vm', user, resources: 'other=vbdomain=eviltar' };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, 1);
  assert.is(
    run.stderr,
    `vmbatch: TAR_UNSAFE: the tar file ${join(mom.root, 'context', 'evil.tar')} cannot be unpacked safely:\n` +
      "  - ../../etc/profile.d/evil.sh: a '..' component\n" +
      '  hint: rebuild it as a plain or gzip tar with relative paths only (tar -C DIR -czf FILE .), without links that leave it or lead into it\n' +
      'vmbatch: job 502.vm is aborted.',
  );
  await endFailedJob(mom, job, script);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('static network: addresses from the node pool, on the boot line and the context volume; a full pool requeues', async () => {
  const network = { mode: 'static', base: '10.0.2.20', count: 2, prefixLength: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] };
  // the guest's own network card (QEMU user-mode networking, 10.0.2.0/24); SSH still goes over the channel
  const withNic = shipped.replace('<vbsshchannel/>', "<vbsshchannel/>\n    <interface type='user'><model type='virtio'/></interface>");
  await withMom({ config: { network, defaultDomain: 'nic' }, domains: { nic: withNic } }, async (node) => {
    const jobs = ['511.vm', '512.vm', '513.vm'].map((jobId) => ({ jobId, user }));
    const scripts = jobs.map((job) => writeJobScript(node, job, '#!/bin/sh\nip addr show eth0 | sed -n "s/.*inet \\([0-9./]*\\).*/\\1/p"\ngrep -o "vmbatch.net=[^ ]*" /proc/cmdline\n'));
    const runs = await Promise.all(jobs.map((job, i) => runPrologue(node, job, scripts[i]!)));
    const codes = runs.map((r) => r.exitCode).sort();
    assert.equal(codes, [0, 0, 2], runs.map((r) => r.stderr).join('\n'));
    const refused = runs.find((r) => r.exitCode === 2)!;
    assert.match(
      refused.stderr,
      "vmbatch: ADDRESSES_EXHAUSTED: no free static address for the guest: every address of this node's pool (10.0.2.20, 10.0.2.21) is taken by a running job\n" +
        '  hint: the job is requeued; give network.addresses (or network.count) more addresses, or run fewer jobs on this node at once\n',
    );
    // each guest reported its own address with its ready line
    const reports = readFileSync(node.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('msg="ready"'))
      .map((l) => /guest="([^"]*)"/.exec(l)?.[1]);
    assert.equal(reports.sort(), ['vmbatch-guest ip=10.0.2.20', 'vmbatch-guest ip=10.0.2.21']);
    const outputs: string[] = [];
    for (const [i, job] of jobs.entries()) {
      if (runs[i]!.exitCode !== 0) continue;
      const run = await runJobStarter(node, job, scripts[i]!);
      assert.is(run.exitCode, 0, run.stderr);
      outputs.push(run.stdout);
    }
    assert.equal(outputs.sort(), ['10.0.2.20/24\nvmbatch.net=10.0.2.20/24,10.0.2.2,10.0.2.3', '10.0.2.21/24\nvmbatch.net=10.0.2.21/24,10.0.2.2,10.0.2.3'], 'each guest has its static address');
    for (const [i, job] of jobs.entries()) {
      const epilogue = runs[i]!.exitCode === 0 ? runEpilogue(node, job, scripts[i]!, 0) : endFailedJob(node, job, scripts[i]!);
      assert.is((await epilogue).exitCode, 0);
    }
    assert.equal(readdirSync(join(node.stateDir, 'addresses')), [], 'the epilogue releases the addresses');
    assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
  });
});

const rootSshTemplate = shipped.replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>').replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '');

test('ROOTSSH: the host logs in as root with the site key, sends the context and runs prolog.sh; the job runs as the user', async () => {
  const rootSsh = { privateKeyFile: `${testGuestDir}/root_ssh_key`, hostKeysFile: `${testGuestDir}/guest_host_key.pub` };
  await withMom({ domains: { rootssh: rootSshTemplate }, config: { rootSsh } }, async (node) => {
    const job = { jobId: '521.vm', user, resources: 'other=vbdomain=rootssh' };
    const script = writeJobScript(node, job, '#!/bin/sh\nid -un; id -u\ngrep -o "vmbatch\\.[a-z]*=[^ ]*" /proc/cmdline | tr "\\n" " "\n');
    const pro = await runPrologue(node, job, script);
    assert.is(pro.exitCode, 0, pro.stderr);
    const log = readFileSync(node.logFile, 'utf8');
    assert.match(log, /msg="ready" job=521\.vm .* rootssh=\d/);
    const run = await runJobStarter(node, job, script);
    assert.is(run.stdout, 'vbe2e\n31337\nvmbatch.user=vbe2e vmbatch.uid=31337 vmbatch.group=vbe2e vmbatch.gid=31338 vmbatch.jobid=521.vm ', run.stderr);
    assert.is((await runEpilogue(node, job, script, 0)).exitCode, 0);
    assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
  });
});

test('ROOTSSH with a key the guest does not accept: a clear error, the job aborted, nothing left', async () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'vmbatch-rootkey-'));
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'wrong')]);
  const rootSsh = { privateKeyFile: join(keyDir, 'wrong'), hostKeysFile: `${testGuestDir}/guest_host_key.pub` };
  try {
    await withMom({ domains: { rootssh: rootSshTemplate }, config: { rootSsh } }, async (node) => {
      const job = { jobId: '522.vm', user, resources: 'other=vbdomain=rootssh' };
      const script = writeJobScript(node, job, '#!/bin/sh\ntrue\n');
      const pro = await runPrologue(node, job, script);
      assert.is(pro.exitCode, 1);
      assert.match(pro.stderr, `vmbatch: ROOT_SSH_REFUSED: the guest refused the root login root@${node.stateDir}/jobs/522.vm/ssh.sock: All configured authentication methods failed\n`);
      assert.ok(pro.stderr.startsWith('vmbatch: ROOT_SSH_REFUSED'), pro.stderr);
      assert.match(pro.stderr, 'vmbatch: job 522.vm is aborted.');
      assert.is((await endFailedJob(node, job, script)).exitCode, 0);
      assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
    });
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
});

test("DISK: context and init scripts written into the image's partitions before boot, the job script onto the job partition", async () => {
  const image = join(mom.root, 'partitioned.qcow2');
  await makePartitionedImage(image, [
    { sizeMiB: 16, label: 'vbhome' },
    { sizeMiB: 16, label: 'vbroot' },
    { sizeMiB: 8, label: 'vbjobs' },
  ]);
  const before0 = createHash('sha256').update(readFileSync(image)).digest('hex');
  const template = shipped
    .replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>DISK</vbpreparemethod>')
    .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '')
    .replace('/var/lib/vmbatch/guest/disk.qcow2', image)
    .replace('<devices>', "<devices>\n    <vbdisks>\n      <vbdisk name='rootdisk' dev='vda' partition='vda2'/>\n      <vbdisk name='jobdisk' dev='vda' partition='vda3'/>\n    </vbdisks>");
  await withMom({ domains: { disk: template, nopart: template.replace("partition='vda3'", "partition='vda7'") } }, async (node) => {
    const job = { jobId: '531.vm', user, resources: 'other=vbdomain=disk' };
    const script = writeJobScript(node, job, '#!/bin/sh\nid -un\nls /mnt/context/var/lib/vmbatch/context\n');
    const pro = await runPrologue(node, job, script);
    assert.is(pro.exitCode, 0, pro.stderr);
    const overlay = join(node.stateDir, 'jobs', job.jobId, 'disk-vda.qcow2');
    // the job partition got the job script, read back from the overlay without mounting it
    const jobPart = join(node.root, 'vda3.raw');
    await execa('qemu-img', ['dd', '-U', '-f', 'qcow2', '-O', 'raw', 'bs=1M', 'skip=33', 'count=41', `if=${overlay}`, `of=${jobPart}`]);
    assert.is((await execa('debugfs', ['-R', 'cat /531.vm.SC', jobPart])).stdout, readFileSync(script, 'utf8').trimEnd());
    const run = await runJobStarter(node, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, 'vbe2e\nepilog.sh\njob\nprolog.sh\nssh\nvmbatch.env\nvmbatch.json');
    assert.is((await runEpilogue(node, job, script, 0)).exitCode, 0);
    assert.is(createHash('sha256').update(readFileSync(image)).digest('hex'), before0, 'the base image is unchanged');

    const bad = { jobId: '532.vm', user, resources: 'other=vbdomain=nopart' };
    const badScript = writeJobScript(node, bad, '#!/bin/sh\ntrue\n');
    const refused = await runPrologue(node, bad, badScript);
    assert.is(refused.exitCode, 1);
    assert.match(refused.stderr, 'vmbatch: PARTITION_NOT_FOUND: disk vda has no partition vda7 (its partitions: vda1 (16 MiB), vda2 (16 MiB), vda3 (8 MiB))\n');
    await endFailedJob(node, bad, badScript);
    assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
  });
});

test('ROOTSSH to a guest whose SSH server never answers: requeued after the readiness timeout, nothing left', async () => {
  const rootSsh = { privateKeyFile: `${testGuestDir}/root_ssh_key`, hostKeysFile: `${testGuestDir}/guest_host_key.pub` };
  // the guest runs no init at all (busybox sleeps as PID 1): its SSH channel is never served
  const template = rootSshTemplate
    .replace('<cmdline>console=ttyS0 quiet panic=-1</cmdline>', '<cmdline>console=ttyS0 quiet panic=-1 rdinit=/bin/busybox sleep 3600</cmdline>')
    .replace("timeout='120'", "timeout='6'");
  await withMom({ domains: { deaf: template }, config: { rootSsh } }, async (node) => {
    const job = { jobId: '523.vm', user, resources: 'other=vbdomain=deaf' };
    const script = writeJobScript(node, job, '#!/bin/sh\ntrue\n');
    const pro = await runPrologue(node, job, script);
    assert.is(pro.exitCode, 2, pro.stderr);
    assert.match(
      pro.stderr,
      new RegExp(
        `^vmbatch: ROOT_SSH_FAILED: cannot log in to the guest as root@${node.stateDir}/jobs/523\\.vm/ssh\\.sock within [67] s: no SSH session began on the channel within [0-9.]+ s \\(a guest writes 'vmbatch-ssh-channel' before each one\\)\n`,
      ),
    );
    assert.match(pro.stderr, 'vmbatch: job 523.vm is requeued (attempt 1 of 3).');
    assert.is((await endFailedJob(node, job, script)).exitCode, 0);
    assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
  });
});

test('console remoteshell: the job runs on the login console as the user, output intact, its exit code unforgeable', async () => {
  const template = shipped.replace('</vbconfig>', "  <vbremoteshell mode='console'/>\n  </vbconfig>");
  await withMom({ domains: { console: template } }, async (node) => {
    const job = { jobId: '541.vm', user, resources: 'other=vbdomain=console' };
    const body = '#!/bin/sh\necho "$(id -un) $(id -u) $PBS_JOBID"\nprintf "no newline at the end\\n\\ttab\\r\\n"\necho to-stderr >&2\nprintf "\\036fake EXIT 0\\036"\nexit 7\n';
    const script = writeJobScript(node, job, body);
    const pro = await runPrologue(node, job, script);
    assert.is(pro.exitCode, 0, pro.stderr);
    const socket = join(node.stateDir, 'jobs', job.jobId, 'console.sock');
    const st = statSync(socket);
    assert.equal([st.uid, st.mode & 0o777], [31337, 0o600], 'only the submitter may open the login console');
    for (const round of [1, 2]) {
      const run = await runJobStarter(node, job, script);
      assert.is(run.exitCode, 7, `round ${round}: ${run.stderr}`);
      assert.is(run.stdout, 'vbe2e 31337 541.vm\nno newline at the end\n\ttab\r\nto-stderr\n\u001efake EXIT 0\u001e', `round ${round}`);
    }
    assert.is((await runEpilogue(node, job, script, 7)).exitCode, 0);
    assert.equal(await leftovers(node), { domains: before, jobs: [], ports: [], attempts: [] });
  });
});

test.run();
