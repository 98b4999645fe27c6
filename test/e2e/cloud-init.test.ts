// A stock Debian cloud image with the real cloud-init (scripts/build-cloud-guest.sh): vmbatch's
// NoCloud seed alone prepares it, and a job runs in it as the submitter with the host's ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';
import { chownSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { join } from 'node:path';
import { domainsDir } from '../helpers/paths.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { serveCloudCatalogue } from '../helpers/cloud-catalogue.js';

let user: HostUser;
let mom: Mom;
let server: ImageServer;
let before: string[];

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const catalogueUrl = await serveCloudCatalogue(server);
  mom = await setupMom({ config: { prologueBudgetSeconds: 280, catalogue: { sources: [catalogueUrl] }, guestRoot: 'saving-changes' } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(mom.domainsDir, 'cloudguest.xml'));
  before = (await leftovers(mom)).domains;
});
const workdirs: string[] = [];
test.after(async () => {
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
  rmSync(join(user.home, '.vmbatch', 'changes'), { recursive: true, force: true });
  teardownMom(mom);
  await server.close();
});

test('cloud-init creates the submitter, installs the keys and the job; the job runs as the submitter', async () => {
  const job = { jobId: '601.vm', user, resources: 'other=vbdomain=cloudguest' };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho "$(id -un) $(id -u):$(id -g) $(id -gn)"\ncloud-init status\nexit 5\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const run = await runJobStarter(mom, job, script);
  assert.is(run.stdout, 'vbe2e 31337:31338 vbe2e\nstatus: done', run.stderr);
  assert.is(run.exitCode, 5);
  assert.is((await runEpilogue(mom, job, script, 5)).exitCode, 0);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('runtime environments in a cloud-init guest: the seed carries them, the runcmd script installs them', async () => {
  const job = { jobId: '602.vm', user, resources: 'other=vbrte=APPS/TEST/GREETING-1+DATA/TEST/REFDATA-1' };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho "$GREETING"\ncat "$REFDATA/README"\n');
  const pro = await runPrologue(mom, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(mom, job, script);
    assert.is(run.stdout, 'hello from /opt/vmbatch/rte/APPS/TEST/GREETING-1/pkg\nreference data 1', run.stderr);
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

// Runs a job that must succeed in its own working directory; returns what it printed and what the epilogue said.
async function runJob(spec: JobSpec, body: string, files: Record<string, string> = {}): Promise<{ stdout: string; epilogue: string }> {
  const job = { ...spec, workdir: freshWorkdir(user, `cloud-${spec.jobId}-`) };
  workdirs.push(job.workdir);
  for (const [name, from] of Object.entries(files)) {
    copyFileSync(from, join(job.workdir, name));
    chownSync(join(job.workdir, name), user.uid, user.gid);
  }
  const script = writeJobScript(mom, job, body);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const run = await runJobStarter(mom, job, script);
  const epi = await runEpilogue(mom, job, script, run.exitCode);
  assert.is(run.exitCode, 0, run.stdout + run.stderr);
  return { stdout: run.stdout, epilogue: epi.stderr };
}

test("AppPot in a stock Debian guest: root by the guest's own sudo installs a package with dpkg, the changes are saved; a later job has the program and no sudo", async () => {
  // a package of the submitter's, built on the node and brought in the working directory
  const pkg = join(mom.root, 'pkg');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN', 'control'), 'Package: vb-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: vmbatch tests <root@localhost>\nDescription: a program a submitter installs\n');
  writeFileSync(join(pkg, 'usr', 'bin', 'vb-hello'), '#!/bin/sh\necho hello from a package\n', { mode: 0o755 });
  const deb = join(mom.root, 'vb-hello.deb');
  await execa('dpkg-deb', ['--root-owner-group', '-b', pkg, deb]);
  const first = await runJob(
    { jobId: '603.vm', user, resources: 'other=vbdomain=cloudguest:vbroot=yes:vbsavechanges=hello' },
    '#!/bin/sh\nsudo -n dpkg -i vb-hello.deb >/dev/null && vb-hello && sync\n',
    { 'vb-hello.deb': deb },
  );
  assert.is(first.stdout, 'hello from a package');
  assert.match(first.epilogue, `saved the guest's changes as ${join(user.home, '.vmbatch', 'changes', 'hello.qcow2')}`);
  const second = await runJob(
    { jobId: '604.vm', user, resources: 'other=vbdomain=cloudguest:vbchanges=hello' },
    '#!/bin/sh\nvb-hello\ndpkg-query -W vb-hello\nsudo -n true 2>/dev/null || echo no sudo\n',
  );
  assert.is(second.stdout, 'hello from a package\nvb-hello\t1.0\nno sudo');
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
