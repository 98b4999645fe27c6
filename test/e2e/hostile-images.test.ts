// Hostile images and a full disk through the real hooks: a submitter's image whose qcow2 data
// file names another running job's overlay is refused before any tool opens it; a STATEDIR on
// a small tmpfs makes the prologue requeue (DISK_FULL, exit 2) with nothing left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runEpilogue, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

const baseImage = '/var/lib/vmbatch/guest/disk.qcow2';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let before: string[];

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const userTemplate = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace(`<source file='${baseImage}'/>`, `<source file='${baseImage}'/>\n      <vbuserimage/>`);
  mom = await setupMom({ domains: { userdisk: userTemplate } });
  const policy = join(mom.root, 'user-images.json');
  writeFileSync(policy, JSON.stringify({ allow: [server.url('/users/')], requireHash: true, maxSizeMiB: 64, copyMethod: 'download' }));
  const config = JSON.parse(readFileSync(mom.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(mom.configFile, JSON.stringify({ ...config, images: { userImagePolicy: policy } }));
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

test("a submitter's image whose data file names another running job's overlay: exit 1, the exact text and notice, the overlay unchanged, nothing left", async () => {
  const victimJob = { jobId: '7310.vm', user };
  const victimScript = writeJobScript(mom, victimJob, '#!/bin/sh\ntrue\n');
  const boot = await runPrologue(mom, victimJob, victimScript);
  assert.is(boot.exitCode, 0, boot.stderr);
  const overlay = join(mom.stateDir, 'jobs', '7310.vm', 'disk-vda.qcow2');
  assert.ok(existsSync(overlay));

  const work = mkdtempSync('/tmp/vmbatch-evil-');
  const evil = join(work, 'evil.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${evil}.data`, evil, '64M']);
  await execa('qemu-img', ['amend', '-o', `data_file=${overlay}`, evil]);
  const bytes = readFileSync(evil);
  rmSync(work, { recursive: true, force: true });
  server.route('/users/evil.qcow2', { kind: 'data', data: bytes });
  const url = server.url('/users/evil.qcow2');
  const overlayBefore = sha256(readFileSync(overlay));

  const hostile = { jobId: '7311.vm', user, resources: `other=vbdomain=userdisk:vbuserimage=${url}:vbuserimagehash=sha256:${sha256(bytes)}` };
  const script = writeJobScript(mom, hostile, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(mom, hostile, script);
  assert.is(run.exitCode, 1);
  assert.is(
    run.stderr,
    `vmbatch: IMAGE_REFERENCES_OUTSIDE: the image ${url} names an external data file (${overlay}) and is refused: the guest and root's tools would open that host file with their rights\n` +
      '  hint: make it self-contained (`qemu-img convert -O qcow2 IN OUT` where the data is yours); a base image may point at no other file\n' +
      'vmbatch: job 7311.vm is aborted.',
  );
  assert.is(readFileSync(join(user.home, 'vmbatch-7311.vm.err'), 'utf8'), run.stderr + '\n');
  assert.is(sha256(readFileSync(overlay)), overlayBefore, "the other job's overlay is unchanged");
  assert.not.ok(existsSync(join(mom.stateDir, 'jobs', '7311.vm')), "nothing of the refused job's disks is left");
  await endFailedJob(mom, hostile, script);
  assert.is((await runEpilogue(mom, victimJob, victimScript, 0)).exitCode, 0);
  // other helpers' guests come and go on this host: only this file's jobs (73xx) count
  const left = await leftovers(mom);
  assert.equal({ ...left, domains: left.domains.filter((d) => d.startsWith('vmbatch-73')) }, { domains: before.filter((d) => d.startsWith('vmbatch-73')), jobs: [], ports: [], attempts: [] });
});

test('a STATEDIR on a full tmpfs: the overlay cannot be written, DISK_FULL requeues the job (exit 2), nothing is left', async () => {
  const mount = mkdtempSync('/tmp/vmbatch-full-');
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=96k,mode=0755', 'tmpfs', mount]);
  try {
    chmodSync(mount, 0o755);
    const config = JSON.parse(readFileSync(mom.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(mom.configFile, JSON.stringify({ ...config, stateDir: mount }));
    const job = { jobId: '7312.vm', user };
    const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
    const run = await runPrologue(mom, job, script);
    assert.is(run.exitCode, 2, run.stderr);
    const lines = run.stderr.split('\n');
    assert.match(
      lines[0]!,
      new RegExp(
        `^vmbatch: DISK_FULL: no space for ${mount}/jobs/7312\\.vm/disk-vda\\.qcow2: the filesystem is full \\(ENOSPC\\): qemu-img said: qemu-img: ${mount}/jobs/7312\\.vm/disk-vda\\.qcow2: .*No space left on device$`,
      ),
    );
    assert.is(lines.at(-1), 'vmbatch: job 7312.vm is requeued (attempt 1 of 3).');
    assert.not.ok(existsSync(join(mount, 'jobs', '7312.vm')), 'the job directory is gone');
    await endFailedJob(mom, job, script);
    const ls = (d: string) => (existsSync(join(mount, d)) ? readdirSync(join(mount, d)) : []);
    assert.equal([ls('jobs'), ls('ports'), ls('attempts')], [[], [], []]);
    writeFileSync(mom.configFile, JSON.stringify(config));
  } finally {
    await execa('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
  mkdirSync(mom.stateDir, { recursive: true });
});

test.run();
