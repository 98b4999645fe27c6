// A stock Debian cloud image with the real cloud-init (scripts/build-cloud-guest.sh): vmbatch's
// NoCloud seed alone prepares it, and a job runs in it as the submitter with the host's ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { domainsDir } from '../helpers/paths.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeRteImage, makeRteTarball } from '../helpers/rte-packages.js';

let user: HostUser;
let mom: Mom;
let server: ImageServer;
let before: string[];

// a catalogue whose only base system is the Debian 12 the cloud guest realises
const catalogue = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">
  <kb:BaseSystem rdf:about="#deb12" kb:name="Debian-12"><kb:provides>Debian.</kb:provides></kb:BaseSystem>
  <kb:MetaPackage rdf:about="#vm" kb:name="VMLinux/Debian-12-cloud"><kb:provides>Debian-12</kb:provides>
    <kb:VirtualMachine><kb:os>Debian-12</kb:os><kb:Requirements><kb:mem_kb>524288</kb:mem_kb></kb:Requirements></kb:VirtualMachine></kb:MetaPackage>
  <kb:MetaPackage rdf:about="#greet" kb:name="APPS/TEST/GREETING-1"><kb:instance rdf:resource="#greet-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#greet-tar" kb:url="greeting.tar.gz"><kb:basesystem rdf:resource="#deb12"/></kb:TarPackage>
  <kb:MetaPackage rdf:about="#ref" kb:name="DATA/TEST/REFDATA-1"><kb:instance rdf:resource="#ref-img"/></kb:MetaPackage>
  <kb:ImagePackage rdf:about="#ref-img" kb:url="refdata.img"><kb:basesystem rdf:resource="#deb12"/></kb:ImagePackage>
</rdf:RDF>
`;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-cloud-rte-'));
  await makeRteTarball(join(dir, 'greeting.tar.gz'), { install: 'echo "hello from %BASEDIR%" > greeting', runtime: { 1: 'GREETING=$(cat %BASEDIR%/greeting); export GREETING' } }, true);
  await makeRteImage(join(dir, 'refdata.img'), { runtime: { 1: 'REFDATA=%BASEDIR%; export REFDATA' }, data: { README: 'reference data 1\n' } });
  server.route('/greeting.tar.gz', { kind: 'file', path: join(dir, 'greeting.tar.gz') });
  server.route('/refdata.img', { kind: 'file', path: join(dir, 'refdata.img') });
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue) });
  mom = await setupMom({ config: { prologueBudgetSeconds: 280, catalogue: { sources: [server.url('/catalogue.rdf')] } } });
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
