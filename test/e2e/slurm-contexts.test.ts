// Under Slurm as under Torque: the catalogue's runtime environments choose the Debian cloud
// guest, cloud-init prepares it for the submitter, the image comes from the shared cache, the
// working directory is shared; a submitter's image the site's policy refuses fails only its job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { makeRteImage, makeRteTarball } from '../helpers/rte-packages.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { setupSlurmNode, slurmLeftovers, submit, teardownSlurmNode, waitForJobEnd, waitForNodeState, type SlurmNode } from '../slurm/cluster.js';

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

let node: SlurmNode;
let user: HostUser;
let server: ImageServer;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-slurm-rte-'));
  await makeRteTarball(join(dir, 'greeting.tar.gz'), { install: 'echo "hello from %BASEDIR%" > greeting', runtime: { 1: 'GREETING=$(cat %BASEDIR%/greeting); export GREETING' } }, true);
  await makeRteImage(join(dir, 'refdata.img'), { runtime: { 1: 'REFDATA=%BASEDIR%; export REFDATA' }, data: { README: 'reference data 1\n' } });
  server.route('/greeting.tar.gz', { kind: 'file', path: join(dir, 'greeting.tar.gz') });
  server.route('/refdata.img', { kind: 'file', path: join(dir, 'refdata.img') });
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue) });
  node = setupSlurmNode({ config: { prologueBudgetSeconds: 280, catalogue: { sources: [server.url('/catalogue.rdf')] } } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(node.domainsDir, 'cloudguest.xml'));
});
test.after(async () => {
  teardownSlurmNode(node);
  await server.close();
});

test('--vm-rte: the catalogue chooses the cloud-init guest, which installs the RTEs; the job runs as the submitter in its shared directory', async () => {
  const dir = freshWorkdir(user, 'slurm-rte-');
  const script = '#!/bin/sh\n#SBATCH --vm-rte=APPS/TEST/GREETING-1+DATA/TEST/REFDATA-1 --output=out.txt\necho "$(id -un) $(id -u):$(id -g) $(pwd)"\necho "$GREETING"\ncat "$REFDATA/README"\ncat input.txt\ncloud-init status\n';
  const jobId = await submit(user, dir, script);
  const record = await waitForJobEnd(jobId, 400_000);
  assert.is(record?.ExitCode, '0:0', readFileSync(join(dir, 'out.txt'), 'utf8'));
  assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), `vbe2e 31337:31338 ${dir}\nhello from /opt/vmbatch/rte/APPS/TEST/GREETING-1/pkg\nreference data 1\ninput from the node\nstatus: done\n`);
  assert.match(readFileSync(node.logFile, 'utf8'), 'hook=slurm-prolog msg="rtes resolved" base=Debian-12 vm=VMLinux/Debian-12-cloud template=cloudguest packages="APPS/TEST/GREETING-1 DATA/TEST/REFDATA-1"');
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [] });
});

test("a submitter's image the site's policy refuses fails only that job, with the policy's reason", async () => {
  const dir = freshWorkdir(user, 'slurm-userimage-');
  const jobId = await submit(user, dir, `#!/bin/sh\n#SBATCH --vm-image=${server.url('/mine.qcow2')} --output=out.txt\necho ran\n`);
  assert.is((await waitForJobEnd(jobId))?.ExitCode, '255:0');
  const out = readFileSync(join(dir, 'out.txt'), 'utf8');
  const refused = `vmbatch: USER_IMAGE_REFUSED: the guest image '${server.url('/mine.qcow2')}' requested with vbuserimage (Slurm: --vm-image) is refused: `;
  assert.is(out.slice(0, refused.length), refused);
  assert.match(out, `\nvmbatch: job ${jobId} does not run: it ends at once with exit status 255.\n`);
  assert.is(server.requests('/mine.qcow2'), 0);
  await waitForNodeState(/^idle$/);
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [] });
});

test.run();
