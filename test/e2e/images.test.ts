// Disk images end to end: the test guest's disk fetched from a real HTTP server on 127.0.0.1
// into the shared cache, hash-checked, used by concurrent jobs through their own overlays;
// submitter images under the site's policy; download faults through the real hooks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, updateMomConfig, writeJobScript, type Mom, type JobSpec } from '../torque/pbs-mom.js';
import type { QemuImgJson } from '../helpers/qemu-img-json.js';

const baseImage = '/var/lib/vmbatch/guest/disk.qcow2';
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const imageHash = sha256(baseImage);

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let before: string[];

// the shipped test guest with its /home disk fetched from the server instead of a local file
const fetchedTemplate = (url: string, hash: string) =>
  readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace(
    `<source file='${baseImage}'/>`,
    `<vbdisksource source='${url}' copy_method='shared'/>\n      <vbcheckhash hashfunction='/usr/bin/sha256sum' hashvalue='${hash}'/>\n      <vbuserimage/>`,
  );

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  for (const path of ['/disk.qcow2', '/disk16.qcow2', '/users/disk.qcow2']) server.route(path, { kind: 'file', path: baseImage });
  server.route('/broken.qcow2', { kind: 'status', status: 500 });
  mom = await setupMom({
    domains: {
      fetched: fetchedTemplate(server.url('/disk.qcow2'), imageHash),
      sixteen: fetchedTemplate(server.url('/disk16.qcow2'), imageHash),
      wronghash: fetchedTemplate(server.url('/disk.qcow2'), 'f'.repeat(64)),
      serverdown: fetchedTemplate(server.url('/broken.qcow2'), imageHash),
    },
    config: { images: { userImagePolicy: '/nonexistent' } },
  });
  const policy = join(mom.root, 'user-images.json');
  writeFileSync(policy, JSON.stringify({ allow: [server.url('/users/')], requireHash: true, maxSizeMiB: 64 }));
  updateMomConfig(mom, { images: { userImagePolicy: policy } });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

const cacheEntries = () => readdirSync(join(mom.stateDir, 'cache', 'images'));
const clean = async () => assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
const backingOf = async (file: string) => (JSON.parse((await execa('qemu-img', ['info', '--output=json', '--force-share', file])).stdout) as QemuImgJson)['backing-filename'];

async function bootAll(jobs: JobSpec[], script: string): Promise<string[]> {
  const scripts = jobs.map((job) => writeJobScript(mom, job, script));
  const runs = await Promise.all(jobs.map((job, i) => runPrologue(mom, job, scripts[i]!)));
  runs.forEach((run, i) => assert.is(run.exitCode, 0, `${jobs[i]!.jobId}: ${run.stderr}`));
  return scripts;
}

async function endAll(jobs: JobSpec[], scripts: string[]): Promise<void> {
  const runs = await Promise.all(jobs.map((job, i) => runEpilogue(mom, job, scripts[i]!, 0)));
  for (const run of runs) assert.is(run.exitCode, 0, run.stderr);
}

test('two jobs at once boot from one hash-checked download, each on its own overlay; the image is unchanged', async () => {
  // submitted from below the home: $HOME in each guest is on its own overlay (the working directory is shared)
  const workdir = join(user.home, 'images-jobs');
  mkdirSync(workdir, { recursive: true });
  chownSync(workdir, user.uid, user.gid);
  const jobs = ['301.vm', '302.vm'].map((jobId) => ({ jobId, user, resources: 'other=vbdomain=fetched', workdir }));
  const script = '#!/bin/sh\nls $HOME/mine-* 2>/dev/null; echo "$PBS_JOBID" > "$HOME/mine-$PBS_JOBID"; sync; ls $HOME/mine-*\n';
  const scripts = await bootAll(jobs, script);
  assert.is(server.requests('/disk.qcow2'), 1, 'one download for both jobs');
  // inside hooks there is no progress bar: the download is two quiet log lines
  const logged = readFileSync(mom.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('hook=prologue msg="download'));
  assert.equal(
    logged.map((l) => l.replace(/^\S+ /, '').replace(/ (job|ms)=\S+/g, '')),
    [
      `level=info hook=prologue msg="download start" url=${server.url('/disk.qcow2')}`,
      `level=info hook=prologue msg="download done" url=${server.url('/disk.qcow2')} bytes=${statSync(baseImage).size} digest=sha256:${imageHash}`,
    ],
  );
  const [entry] = cacheEntries();
  const cached = join(mom.stateDir, 'cache', 'images', entry!, 'image');
  for (const job of jobs) assert.is(await backingOf(join(mom.stateDir, 'jobs', job.jobId, 'disk-vda.qcow2')), cached);
  for (const [i, job] of jobs.entries()) {
    const run = await runJobStarter(mom, job, scripts[i]!);
    assert.is(run.exitCode, 0, run.stderr);
    assert.is(run.stdout, `/home/vbe2e/mine-${job.jobId}`, 'each guest sees only its own writes');
  }
  await endAll(jobs, scripts);
  assert.is(sha256(cached), imageHash, 'the cached image is unchanged');
  assert.is(sha256(baseImage), imageHash);
  assert.equal(readdirSync(join(mom.stateDir, 'cache', 'images', entry!, 'users')), [], 'both uses released');
  await clean();
});

test('16 prologues at once for one uncached image: one download, 16 verified guests on their own overlays', async () => {
  const jobs = Array.from({ length: 16 }, (_, i) => ({ jobId: `${400 + i}.vm`, user, resources: 'other=vbdomain=sixteen' }));
  const scripts = await bootAll(jobs, '#!/bin/sh\ntrue\n');
  assert.is(server.requests('/disk16.qcow2'), 1);
  const overlays = new Set(jobs.map((job) => statSync(join(mom.stateDir, 'jobs', job.jobId, 'disk-vda.qcow2')).ino));
  assert.is(overlays.size, 16);
  await endAll(jobs, scripts);
  await clean();
});

test("a submitter's image within the policy boots; one outside it aborts the job with a notice and nothing left", async () => {
  const job = { jobId: '320.vm', user, resources: `other=vbdomain=fetched:vbuserimage=${server.url('/users/disk.qcow2')}:vbuserimagehash=sha256:${imageHash}` };
  const [script] = await bootAll([job], '#!/bin/sh\nid -un\n');
  assert.is(server.requests('/users/disk.qcow2'), 1);
  assert.is((await runJobStarter(mom, job, script!)).stdout, 'vbe2e');
  await endAll([job], [script!]);
  await clean();

  const refused = { jobId: '321.vm', user, resources: `other=vbdomain=fetched:vbuserimage=${server.url('/etc/../users/x.img')}:vbuserimagehash=sha256:${imageHash}` };
  const refusedScript = writeJobScript(mom, refused, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(mom, refused, refusedScript);
  assert.is(run.exitCode, 1);
  assert.is(
    run.stderr,
    `vmbatch: USER_IMAGE_REFUSED: the guest image '${server.url('/etc/../users/x.img')}' requested with vbuserimage (Slurm: --vm-image) is refused: its path contains '..', '.' or '\\'\n` +
      '  hint: request an image the site allows (`vmbatch images policy` prints its rules; docs/submitters.md), or submit without vbuserimage (--vm-image under Slurm)\n' +
      'vmbatch: job 321.vm is aborted.',
  );
  const notice = join(user.home, 'vmbatch-321.vm.err');
  assert.is(readFileSync(notice, 'utf8'), run.stderr + '\n');
  await endFailedJob(mom, refused, refusedScript);
  await clean();
});

test('download faults through the prologue: a server error requeues (2), a wrong hash aborts (1); no entry is left', async () => {
  const entriesBefore = cacheEntries();
  const down = { jobId: '330.vm', user, resources: 'other=vbdomain=serverdown' };
  const downScript = writeJobScript(mom, down, '#!/bin/sh\ntrue\n');
  const downRun = await runPrologue(mom, down, downScript);
  assert.is(downRun.exitCode, 2);
  assert.is(
    downRun.stderr,
    `vmbatch: DOWNLOAD_SERVER_ERROR: downloading ${server.url('/broken.qcow2')} failed: the server answered 500 Internal Server Error\n` +
      '  hint: the image server has a problem; the job is requeued up to maxAttempts times\n' +
      'vmbatch: job 330.vm is requeued (attempt 1 of 3).',
  );
  const wrong = { jobId: '331.vm', user, resources: 'other=vbdomain=wronghash' };
  const wrongScript = writeJobScript(mom, wrong, '#!/bin/sh\ntrue\n');
  rmSync(join(mom.stateDir, 'cache', 'images'), { recursive: true });
  const wrongRun = await runPrologue(mom, wrong, wrongScript);
  assert.is(wrongRun.exitCode, 1);
  assert.match(wrongRun.stderr, `vmbatch: IMAGE_HASH_MISMATCH: the image ${server.url('/disk.qcow2')} does not match its sha256 hash: expected ${'f'.repeat(64)}, got ${imageHash}\n`);
  assert.equal(cacheEntries(), [], 'nothing of the bad download is kept');
  assert.ok(entriesBefore.length > 0);
  for (const [job, script] of [
    [down, downScript],
    [wrong, wrongScript],
  ] as const)
    await endFailedJob(mom, job, script);
  await clean();
});

test.run();
