// Under Slurm as under Torque: the catalogue's runtime environments choose the Debian cloud
// guest, cloud-init prepares it for the submitter, the image comes from the shared cache, the
// working directory is shared; a submitter's image the site's policy refuses fails only its job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { serveCloudCatalogue } from '../helpers/cloud-catalogue.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { setupSlurmNode, slurmLeftovers, submit, teardownSlurmNode, waitForJobEnd, waitForNodeState, type SlurmNode } from '../slurm/cluster.js';

let node: SlurmNode;
let user: HostUser;
let server: ImageServer;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const catalogueUrl = await serveCloudCatalogue(server);
  node = setupSlurmNode({ config: { prologueBudgetSeconds: 280, catalogue: { sources: [catalogueUrl] } } });
  copyFileSync(join(domainsDir, 'cloudguest.xml'), join(node.domainsDir, 'cloudguest.xml'));
});
test.after(async () => {
  teardownSlurmNode(node);
  await server.close();
});

test('--vm-rte: the catalogue chooses the cloud-init guest, which installs the RTEs; the job runs as the submitter in its shared directory', async () => {
  const dir = freshWorkdir(user, 'slurm-rte-');
  const script =
    '#!/bin/sh\n#SBATCH --vm-rte=APPS/TEST/GREETING-1+DATA/TEST/REFDATA-1 --output=out.txt\necho "$(id -un) $(id -u):$(id -g) $(pwd)"\necho "$GREETING"\ncat "$REFDATA/README"\ncat input.txt\ncloud-init status\n';
  const jobId = await submit(user, dir, script);
  const record = await waitForJobEnd(jobId, 400_000);
  assert.is(record?.ExitCode, '0:0', readFileSync(join(dir, 'out.txt'), 'utf8'));
  assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), `vbe2e 31337:31338 ${dir}\nhello from /opt/vmbatch/rte/APPS/TEST/GREETING-1/pkg\nreference data 1\ninput from the node\nstatus: done\n`);
  assert.match(
    readFileSync(node.logFile, 'utf8'),
    'hook=slurm-prolog msg="rtes resolved" base=Debian-12 vm=VMLinux/Debian-12-cloud template=cloudguest packages="APPS/TEST/GREETING-1 DATA/TEST/REFDATA-1"',
  );
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });
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
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });
});

test.run();
