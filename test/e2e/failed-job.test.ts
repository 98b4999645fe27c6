// A job the prologue fails for good, on a node whose pbs_mom has a $job_starter: the job "runs"
// and ends at once, so the error file Torque delivers carries the reason (an aborted job's is
// never delivered, and after requeues Torque delivers an earlier attempt's). Without the line the
// job is aborted as before: the job script must never run on the node itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, withMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let mom: Mom;
let user: HostUser;
let other: HostUser;
let before: string[];

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  other = await ensureHostUser('vbother', 31339, 31340);
  mom = await setupMom({ jobStarterLine: true });
  before = (await leftovers(mom)).domains;
});
test.after(() => teardownMom(mom));

const notice = (jobId: string) => `${user.home}/vmbatch-${jobId}.err`;

test('a permanent error: the prologue lets the job run, remoteshell ends it at once with 255 and the reason, nothing runs and nothing is left', async () => {
  const job = { jobId: '7801.vm', user, resources: 'other=vbdomain=nosuch' };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntouch "$HOME/ran-7801"\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, 'exit 0: pbs_mom starts the job, whose error file is then delivered');
  assert.is(
    pro.stderr,
    `vmbatch: DOMAIN_NOT_FOUND: no domain template 'nosuch' in ${mom.domainsDir} (available: testguest)\n` +
      '  hint: request one of the available templates (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME), or ask the site admin to add it\n' +
      'vmbatch: job 7801.vm does not run: it ends at once with exit status 255.',
  );
  assert.is(readFileSync(notice('7801.vm'), 'utf8'), pro.stderr + '\n', 'the notice in the working directory says the same');
  rmSync(notice('7801.vm'));
  assert.equal((await leftovers(mom)).domains, before, 'no guest was started');

  const run = await runJobStarter(mom, job, script);
  assert.is(run.exitCode, 255);
  assert.is(
    run.stderr,
    'vmbatch: JOB_FAILED_BY_PROLOGUE: job 7801.vm did not run: its prologue failed it with DOMAIN_NOT_FOUND\n' +
      "  hint: the prologue's message above (and vmbatch-JOBID.err in the working directory) says what was wrong and what to change before resubmitting",
  );
  assert.is(run.stdout, '');
  assert.not.ok(existsSync(`${user.home}/ran-7801`), 'the job script ran nowhere');

  const epi = await runEpilogue(mom, job, script, 255);
  assert.is(epi.exitCode, 0, epi.stderr);
  assert.is(epi.stderr, '', 'no guest, so no report of a lost one');
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test("retries exhausted: the last attempt's error file carries RETRIES_EXHAUSTED (the job then ends with 255)", () =>
  withMom({ jobStarterLine: true, config: { libvirtUri: 'qemu:///system?socket=/nonexistent/libvirt-sock', maxAttempts: 2 } }, async (down) => {
    const job = { jobId: '7802.vm', user };
    const script = writeJobScript(down, job, '#!/bin/sh\n');
    const first = await runPrologue(down, job, script);
    assert.is(first.exitCode, 2, first.stderr);
    assert.match(first.stderr, /\nvmbatch: job 7802\.vm is requeued \(attempt 1 of 2\)\.$/);
    await runEpilogue(down, job, script, -14);
    const last = await runPrologue(down, job, script);
    assert.is(last.exitCode, 0, last.stderr);
    assert.match(last.stderr, /^vmbatch: RETRIES_EXHAUSTED: gave up after 2 attempts; the last one failed with: libvirt at qemu:\/\/\/system\?socket=\/nonexistent\/libvirt-sock does not answer: /);
    assert.match(last.stderr, /\nvmbatch: job 7802\.vm does not run: it ends at once with exit status 255\.$/);
    const run = await runJobStarter(down, job, script);
    assert.is(run.exitCode, 255);
    assert.match(run.stderr, /^vmbatch: JOB_FAILED_BY_PROLOGUE: job 7802\.vm did not run: its prologue failed it with RETRIES_EXHAUSTED\n/);
    rmSync(notice('7802.vm'), { force: true });
    // libvirt is down: the epilogue cannot check for a domain; the attempt count goes all the same
    await runEpilogue(down, job, script, 255);
    assert.equal((await leftovers(down)).attempts, []);
    rmSync(`${down.stateDir}/jobs/7802.vm`, { recursive: true, force: true });
  }));

test('without a $job_starter line the job is aborted (1): its script would run on the node itself', () =>
  withMom({}, async (plain) => {
    const job = { jobId: '7803.vm', user, resources: 'other=vbdomain=nosuch' };
    const script = writeJobScript(plain, job, '#!/bin/sh\n');
    const pro = await runPrologue(plain, job, script);
    assert.is(pro.exitCode, 1);
    assert.match(pro.stderr, /\nvmbatch: job 7803\.vm is aborted\.$/);
    assert.equal((await leftovers(plain)).jobs, []);
    rmSync(notice('7803.vm'));
    await runEpilogue(plain, job, script, -2);
  }));

test("hostile: another user cannot learn why someone else's job failed, nor end it; the record is root's", async () => {
  const job = { jobId: '7804.vm', user, resources: 'other=vbdomain=nosuch' };
  const script = writeJobScript(mom, job, '#!/bin/sh\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  rmSync(notice('7804.vm'));
  const record = statSync(`${mom.stateDir}/jobs/7804.vm/failure.json`);
  assert.is(record.uid, 0);
  assert.is(record.mode & 0o777, 0o644);
  const spy = await runJobStarter(mom, { ...job, user: other }, script);
  assert.is(spy.exitCode, 255);
  assert.is(spy.stderr.split('\n')[0], 'vmbatch: JOB_NOT_OWNED: job 7804.vm belongs to uid 31337, not to uid 31339: only its submitter reaches its guest');
  assert.ok(existsSync(`${mom.stateDir}/jobs/7804.vm/failure.json`), "the owner's job is untouched");
  await runEpilogue(mom, job, script, 255);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
