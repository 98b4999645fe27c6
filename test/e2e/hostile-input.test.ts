// Hostile input through the real hooks (Torque harness, qemu:///system): a submitter's image on
// a DISK template, a broken partition table, smuggled URLs and a second other=. Each is refused
// before anything is fetched or made, with the exact message, exit 1, the submitter's notice,
// and nothing left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeCraftedGptImage } from '../helpers/partitioned-image.js';
import { domainsDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runPrologue, setupMom, teardownMom, updateMomConfig, writeJobScript, type Mom } from '../torque/pbs-mom.js';

const baseImage = '/var/lib/vmbatch/guest/disk.qcow2';
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const hash = `sha256:${'a'.repeat(64)}`;

// the test guest contextualized by DISK: context into vda2, the job script into vda3
const diskTemplate = (vda: string) =>
  shipped
    .replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>DISK</vbpreparemethod>')
    .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '')
    .replace(`<source file='${baseImage}'/>`, vda)
    .replace('<devices>', "<devices>\n    <vbdisks>\n      <vbdisk name='rootdisk' dev='vda' partition='vda2'/>\n      <vbdisk name='jobdisk' dev='vda' partition='vda3'/>\n    </vbdisks>");

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let brokenImage: string;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  server.route('/users/disk.qcow2', { kind: 'file', path: baseImage });
  mom = await setupMom({
    domains: {
      diskuser: diskTemplate(`<vbdisksource source='${server.url('/disk.qcow2')}' copy_method='shared'/>\n      <vbuserimage/>`),
      // the admin's image is fine as a placeholder: the broken one is put in place below
      diskbroken: diskTemplate(`<source file='/nonexistent/broken.qcow2'/>`),
    },
  });
  brokenImage = join(mom.root, 'broken-gpt.qcow2');
  await makeCraftedGptImage(brokenImage, { sizeMiB: 4, entrySize: 0, entryCount: 0xffffffff, partitions: [] });
  writeFileSync(join(mom.domainsDir, 'diskbroken.xml'), diskTemplate(`<source file='${brokenImage}'/>`));
  const policy = join(mom.root, 'user-images.json');
  writeFileSync(policy, JSON.stringify({ allow: [server.url('/users/')], requireHash: true, maxSizeMiB: 64 }));
  updateMomConfig(mom, { images: { userImagePolicy: policy } });
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

// no domain of these jobs, no job directory, port or attempt record (other tests' guests may come and go meanwhile)
const clean = async () => {
  const left = await leftovers(mom);
  assert.equal({ ...left, domains: left.domains.filter((d) => /^vmbatch-75\d\d\.vm$/.test(d)) }, { domains: [], jobs: [], ports: [], attempts: [] });
};
const cacheEntries = () => (existsSync(join(mom.stateDir, 'cache', 'images')) ? readdirSync(join(mom.stateDir, 'cache', 'images')) : []);

// Runs a prologue that must abort: exit 1, the notice (the submitter's, 0600) equal to stderr,
// nothing fetched, nothing cached, nothing left after the epilogue.
async function refusedJob(jobId: string, resources: string): Promise<string> {
  const job = { jobId, user, resources };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho never\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, 1, run.stderr);
  const notice = join(user.home, `vmbatch-${jobId}.err`);
  assert.is(statSync(notice).uid, user.uid);
  assert.is(readFileSync(notice, 'utf8'), run.stderr + '\n');
  rmSync(notice);
  assert.is(server.requests('/users/disk.qcow2'), 0, 'nothing was downloaded');
  assert.equal(cacheEntries(), [], 'nothing was cached');
  await endFailedJob(mom, job, script);
  await clean();
  return run.stderr;
}

test("a submitter's image on a DISK template is refused at planning, before any download: its partition table would be the submitter's", async () => {
  const url = server.url('/users/disk.qcow2');
  const stderr = await refusedJob('7501.vm', `other=vbdomain=diskuser:vbuserimage=${url}:vbuserimagehash=${hash}`);
  assert.is(
    stderr,
    `vmbatch: USER_IMAGE_REFUSED: the guest image '${url}' requested with vbuserimage (Slurm: --vm-image) is refused: the domain template contextualizes by DISK, writing into partition vda2 of this image, whose partition table would be the submitter's; submitter images need a CDROM or ROOTSSH template\n` +
      '  hint: request an image the site allows (`vmbatch images policy` prints its rules; docs/submitters.md), or submit without vbuserimage (--vm-image under Slurm)\n' +
      'vmbatch: job 7501.vm is aborted.',
  );
});

test('a DISK image whose GPT has entry size 0 and four billion entries aborts the job (1) at once, the table named', async () => {
  const stderr = await refusedJob('7502.vm', 'other=vbdomain=diskbroken');
  assert.is(
    stderr,
    'vmbatch: PARTITION_TABLE_INVALID: the partition table of disk vda is invalid; nothing was written into it:\n' +
      '  - GPT entry size 0 is not a power of two of at least 128 bytes\n' +
      '  - GPT entry count 4294967295 is more than 1024\n' +
      '  hint: DISK contextualization needs a valid MBR or GPT within the disk (`sfdisk --verify IMAGE` or `sgdisk --verify IMAGE` checks it); repair or rebuild the image\n' +
      'vmbatch: job 7502.vm is aborted.',
  );
});

test("a double-encoded '..' or a control character in vbuserimage, and a second other=, abort the job (1) before any request", async () => {
  const encoded = server.url('/users/%252e%252e/%252e%252e/etc/passwd');
  assert.is(
    await refusedJob('7503.vm', `other=vbuserimage=${encoded}:vbuserimagehash=${hash}`),
    `vmbatch: USER_IMAGE_REFUSED: the guest image '${encoded}' requested with vbuserimage (Slurm: --vm-image) is refused: it contains '%25', an escaped '%' (a double-encoded escape)\n` +
      '  hint: request an image the site allows (`vmbatch images policy` prints its rules; docs/submitters.md), or submit without vbuserimage (--vm-image under Slurm)\n' +
      'vmbatch: job 7503.vm is aborted.',
  );
  const twice = await refusedJob('7504.vm', `other=vbdomain=testguest,nodes=1,other=vbuserimage=${server.url('/users/disk.qcow2')}`);
  assert.is(
    twice,
    "vmbatch: RESOURCE_INVALID: the job's vmbatch resource request is invalid:\n" +
      `  - other= is given 2 times ('vbdomain=testguest', 'vbuserimage=${server.url('/users/disk.qcow2')}'); give every vb setting in one other=, joined with ':'\n` +
      "  hint: request vmbatch settings as qsub -l other=vbdomain=NAME; several settings are joined with ':' (docs/submitters.md)\n" +
      'vmbatch: job 7504.vm is aborted.',
  );
});

test.run();
