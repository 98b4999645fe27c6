// A stock Debian cloud image with the real cloud-init (scripts/build-cloud-guest.sh): vmbatch's
// NoCloud seed alone prepares it, and a job runs in it as the submitter with the host's ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { copyFileSync } from 'node:fs';
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
  mom = await setupMom({ config: { prologueBudgetSeconds: 280, catalogue: { sources: [catalogueUrl] } } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(mom.domainsDir, 'cloudguest.xml'));
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
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

test.run();
