// Bad input and faults, each through the real hooks and qemu:///system: the exact message, the
// exit code pbs_mom understands, the submitter's notice, and nothing left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { leftovers, runEpilogue, runPrologue, setupMom, teardownMom, withMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { domainsDir, testGuestDir } from '../helpers/paths.js';

let user: HostUser;
let before: string[];
const shipped = readFileSync(`${domainsDir}/testguest.xml`, 'utf8');
const variant = (from: string | RegExp, to: string) => shipped.replace(from, to);

const domains = {
  broken: "<domain type='qemu'>\n  <name>broken</name>\n  <vbconfig>\n</domain>\n",
  unknowntag: variant('<vbjobpath>', '<vbjobdir>/x</vbjobdir>\n    <vbjobpath>'),
  // the guest has no driver for a SATA CD-ROM: it never finds its context and never reports ready
  silent: variant("<target dev='hdc' bus='ide'/>", "<target dev='sda' bus='sata'/>").replace("timeout='120'", "timeout='12'"),
  // the kernel finds no init that stays up: the guest panics and libvirt destroys it
  noimage: variant('/var/lib/vmbatch/guest/disk.qcow2', '/var/lib/vmbatch/guest/missing.qcow2'),
  crashing: variant('console=ttyS0 quiet panic=-1', 'console=ttyS0 rdinit=/bin/busybox panic=-1'),
};

let mom: Mom;
test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ domains });
  before = (await leftovers(mom)).domains;
});
test.after(() => teardownMom(mom));

const clean = async () => assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });

// The submitter's notice: written as the submitter, in the job's working directory.
function takeNotice(jobId: string): string {
  const file = `${user.home}/vmbatch-${jobId}.err`;
  const st = statSync(file);
  assert.is(st.uid, user.uid, 'the notice belongs to the submitter, not root');
  assert.is(st.mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  rmSync(file);
  return text;
}

async function failingJob(jobId: string, resources: string | undefined, expectedExit: number): Promise<{ stderr: string; notice: string }> {
  const job = { jobId, user, resources };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho never\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, expectedExit, run.stderr);
  assert.equal((await leftovers(mom)).jobs, [], 'the prologue cleans up after itself');
  assert.equal((await leftovers(mom)).domains, before);
  const notice = takeNotice(jobId);
  assert.is(notice, run.stderr + '\n');
  assert.is((await runEpilogue(mom, job, script, expectedExit === 1 ? -2 : -14)).exitCode, 0);
  if (expectedExit === 1) await clean();
  else {
    assert.equal((await leftovers(mom)).attempts, [jobId], 'a requeued job keeps its attempt count');
    await runEpilogue(mom, job, script, -2);
    await clean();
  }
  return { stderr: run.stderr, notice };
}

test('malformed domain XML aborts the job (1) with the position', async () => {
  const { stderr } = await failingJob('201.vm', 'other=vbdomain=broken', 1);
  assert.is(
    stderr,
    `vmbatch: DOMAIN_XML_MALFORMED: domain template ${mom.domainsDir}/broken.xml is not well-formed XML:\n` +
      '  - line 4, column 1: the end tag </domain> does not match the open element <vbconfig> (line 3, column 3), which has no end tag\n' +
      '  hint: fix the XML at each position (`xmllint --noout FILE` shows the same places); `vmbatch validate FILE` checks a template without running a job\n' +
      'vmbatch: job 201.vm is aborted.',
  );
});

test('an unknown vb tag aborts the job (1) naming the element and the allowed tags', async () => {
  const { stderr } = await failingJob('202.vm', 'other=vbdomain=unknowntag', 1);
  assert.is(
    stderr,
    `vmbatch: DOMAIN_TEMPLATE_INVALID: domain template ${mom.domainsDir}/unknowntag.xml is invalid:\n` +
      '  - domain/vbconfig/vbjobdir: unknown tag <vbjobdir> (vb* tags allowed in <vbconfig>: vbpreparemethod, vbhypervisor, vbjobpath, vbreadiness, vbremoteshell, vbcatalogue, vbsize, vbshare, vbwarmstart, vbtarfiles)\n' +
      '  hint: docs/domain-templates.md lists every vb* tag, where it may stand and its attributes\n' +
      'vmbatch: job 202.vm is aborted.',
  );
});

test('an unknown template and a refused vbuserimage abort the job (1)', async () => {
  const missing = await failingJob('203.vm', 'other=vbdomain=nosuch', 1);
  assert.match(missing.stderr, `vmbatch: DOMAIN_NOT_FOUND: no domain template 'nosuch' in ${mom.domainsDir} (available: broken, crashing, noimage, silent, testguest, unknowntag)`);
  const image = await failingJob('204.vm', 'other=vbuserimage=file:///etc/shadow', 1);
  assert.match(image.stderr, "vmbatch: USER_IMAGE_REFUSED: the guest image 'file:///etc/shadow' requested with vbuserimage (Slurm: --vm-image) is refused: this node has no user image policy");
});

test('a base image that does not exist aborts the job (1)', async () => {
  const { stderr } = await failingJob('211.vm', 'other=vbdomain=noimage', 1);
  assert.is(
    stderr,
    `vmbatch: BASE_IMAGE_MISSING: the base image of disk vda, ${testGuestDir}/missing.qcow2, does not exist\n` +
      '  hint: install the image at that path (for the test guest: make guest) or fix <source file=...> in the template\n' +
      'vmbatch: job 211.vm is aborted.',
  );
});

test('a job id or user name with shell or path characters is refused before anything is made', async () => {
  for (const [jobId, who] of [
    ['5.vm;touch /tmp/pwned', user],
    ['206.vm', { ...user, user: '../root' }],
  ] as const) {
    const job = { jobId, user: who };
    const script = writeJobScript(mom, { jobId: '205.vm', user }, '#!/bin/sh\n');
    const run = await runPrologue(mom, job, script);
    assert.is(run.exitCode, 1);
    assert.match(run.stderr, /^vmbatch: HOOK_ARGV_INVALID: the prologue was called with invalid arguments:\n {2}- argv\[[12]\] \((job id|user)\) /);
    assert.match(run.stderr, /\nvmbatch: the job is aborted\.$/);
  }
  assert.not.ok(existsSync('/tmp/pwned'));
  await clean();
});

test('a guest that never reports ready: requeue (2) with its console lines, then nothing left', async () => {
  const started = Date.now();
  const { stderr } = await failingJob('207.vm', 'other=vbdomain=silent', 2);
  assert.ok(Date.now() - started < 40_000, 'the readiness timeout of the template (12 s) applies');
  assert.match(stderr, /^vmbatch: GUEST_NOT_READY: guest vmbatch-207\.vm did not report ready within 12 s; last console lines:\n/);
  assert.match(stderr, "    vmbatch-guest: no context volume: waiting for the host's root SSH\n", stderr);
  assert.match(stderr, /\nvmbatch: job 207\.vm is requeued \(attempt 1 of 3\)\.$/);
});

test('a guest that stops while booting is noticed at once, not at the timeout', async () => {
  const started = Date.now();
  const { stderr } = await failingJob('208.vm', 'other=vbdomain=crashing', 2);
  assert.ok(Date.now() - started < 60_000);
  assert.match(stderr, /^vmbatch: GUEST_STOPPED: guest vmbatch-208\.vm stopped before it was ready; last console lines:\n/);
  assert.match(stderr, 'Kernel panic');
});

test('the prologue budget bounds the wait below $prologalarm', () =>
  withMom({ config: { prologueBudgetSeconds: 3 }, domains: { silent: domains.silent } }, async (tight) => {
    const job = { jobId: '210.vm', user, resources: 'other=vbdomain=silent' };
    const script = writeJobScript(tight, job, '#!/bin/sh\n');
    const run = await runPrologue(tight, job, script);
    assert.is(run.exitCode, 2);
    assert.is(
      run.stderr,
      'vmbatch: BUDGET_EXCEEDED: the prologue used up its budget of 3 s before the guest was ready\n' +
        '  hint: keep prologueBudgetSeconds below pbs_mom $prologalarm (300 s by default) and check why the node is slow\n' +
        'vmbatch: job 210.vm is requeued (attempt 1 of 3).',
    );
    takeNotice('210.vm');
    await runEpilogue(tight, job, script, -2);
    assert.equal(await leftovers(tight), { domains: before, jobs: [], ports: [], attempts: [] });
  }));

test('libvirtd not answering: requeue (2) while attempts remain, then abort (1)', () =>
  withMom({ config: { libvirtUri: 'qemu:///system?socket=/nonexistent/libvirt-sock', maxAttempts: 2 } }, async (down) => {
    const job = { jobId: '209.vm', user };
    const script = writeJobScript(down, job, '#!/bin/sh\n');
    const first = await runPrologue(down, job, script);
    assert.is(first.exitCode, 2);
    assert.is(
      first.stderr,
      "vmbatch: LIBVIRT_UNREACHABLE: libvirt at qemu:///system?socket=/nonexistent/libvirt-sock does not answer: error: Failed to connect socket to '/nonexistent/libvirt-sock': No such file or directory\n" +
        '  hint: start libvirtd (scripts/start-libvirt.sh where no service manager runs it) and check `virsh -c URI version`\n' +
        'vmbatch: job 209.vm is requeued (attempt 1 of 2).',
    );
    takeNotice('209.vm');
    await runEpilogue(down, job, script, -14);
    const second = await runPrologue(down, job, script);
    assert.is(second.exitCode, 1);
    assert.match(second.stderr, /^vmbatch: RETRIES_EXHAUSTED: gave up after 2 attempts; the last one failed with: libvirt at /);
    assert.match(second.stderr, /\nvmbatch: job 209\.vm is aborted\.$/);
    takeNotice('209.vm');
    await runEpilogue(down, job, script, -2);
    assert.equal((await leftovers(down)).attempts, []);
  }));

test.run();
