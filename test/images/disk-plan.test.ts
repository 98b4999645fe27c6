import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { planDisks, type DiskPlanInput } from '../../src/images/disk-plan.js';
import { planDiskContext } from '../../src/context/disk-context.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const input: DiskPlanInput = { paths: jobPaths('/var/lib/vmbatch', '3.vm'), cacheDir: '/var/cache/vmbatch', siteBase: 'http://images.example.org/vm/', userImage: undefined };

const template = (hypervisor: string, disks: string) =>
  parseTemplate(
    `<domain type='${({ XEN3: 'xen', XEN4: 'xen', KVM: 'kvm' } as Record<string, string>)[hypervisor] ?? 'qemu'}'><name>t</name><memory>65536</memory><vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>${hypervisor}</vbhypervisor></vbconfig>
     <devices>${disks}<disk device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc'/><readonly/></disk></devices></domain>`,
    't.xml',
  );

test('writable disks get a per-job overlay, the context disk the ISO', async () => {
  const plan = planDisks(await loadTemplate(join(domainsDir, 'testguest.xml')), input);
  assert.equal(plan, [
    {
      kind: 'disk',
      index: 1,
      target: 'vda',
      base: { kind: 'file', path: '/var/lib/vmbatch/guest/disk.qcow2' },
      baseFormat: 'qcow2',
      access: 'overlay',
      cow: 'qcow2',
      file: '/var/lib/vmbatch/jobs/3.vm/disk-vda.qcow2',
      format: 'qcow2',
    },
    { kind: 'context', index: 2, target: 'hdc', file: '/var/lib/vmbatch/jobs/3.vm/context.iso', format: 'raw' },
  ]);
});

test("the slides' CernVM 3 on Xen 4: per-job download used directly, a created VHD per job", async () => {
  const plan = planDisks(await loadTemplate(join(domainsDir, 'examples', 'cernvm3-xen4-cdrom.xml')), input);
  assert.equal(plan[0], {
    kind: 'disk',
    index: 1,
    target: 'xvdb',
    base: {
      kind: 'download',
      source: {
        url: 'http://cernvm.cern.ch/releases/ucernvm-images.1.18-13.cernvm.x86_64/ucernvm-prod.1.18-13.cernvm.x86_64.fat',
        hash: { algorithm: 'md5', value: '826164d1748929445e805b57929c8f7e' },
        origin: 'template',
        maxBytes: undefined,
        allowedPrefixes: undefined,
      },
    },
    baseFormat: 'raw',
    access: 'direct',
    cow: undefined,
    file: '/var/lib/vmbatch/jobs/3.vm/disk-xvdb.img',
    format: 'aio',
  });
  assert.equal(plan[1], {
    kind: 'disk',
    index: 2,
    target: 'xvdaa',
    base: { kind: 'empty', sizeMiB: 20480, format: 'vhd-util-vhd', once: undefined },
    baseFormat: 'vpc',
    access: 'direct',
    cow: undefined,
    file: '/var/lib/vmbatch/jobs/3.vm/disk-xvdaa.vhd',
    format: 'vhd',
  });
});

test('copy-on-write format follows the hypervisor; shared images overlay the cache entry', async () => {
  const disk = `<disk><driver name='tap' type='aio'/><vbdisksource source='sl5.img' copy_method='shared'/><target dev='xvda'/></disk>`;
  const xen3 = planDisks(await template('XEN3', disk), input)[0]!;
  assert.is(xen3.kind === 'disk' && xen3.cow, 'qcow');
  assert.is(xen3.kind === 'disk' && xen3.base.kind === 'shared' && xen3.base.source.url, 'http://images.example.org/vm/sl5.img');
  assert.match(xen3.kind === 'disk' && xen3.base.kind === 'shared' ? xen3.base.cacheFile : '', /^\/var\/cache\/vmbatch\/images\/[0-9a-f]{32}\/image$/);
  assert.is(planDisks(await template('XEN4', disk), input)[0]!.format, 'vhd');
  assert.is(planDisks(await template('KVM', disk.replace("type='aio'", "type='raw'")), input)[0]!.format, 'qcow2');
  const readonly = planDisks(await template('QEMU', disk.replace('</disk>', '<readonly/></disk>')), input)[0]!;
  assert.is(readonly.kind === 'disk' && readonly.access, 'direct', 'a read-only disk uses the cache entry itself');
});

test('Xen 4 copy-on-write (VHD) over a qcow2 base is refused, naming the disk', async () => {
  const error = await expectVmbatchError(
    async () => planDisks(await template('XEN4', `<disk><driver type='qcow2'/><source file='/img/a.qcow2'/><target dev='xvda'/></disk>`), input),
    'FORMAT_UNSUPPORTED',
  );
  assert.is(error.message, 'disk xvda: a VHD copy-on-write disk (Xen 4) needs a VHD or raw base, not qcow2');
});

test('a created once disk is shared through overlays; always is per job', async () => {
  const once = planDisks(await template('QEMU', `<disk><vbdisksource source='cvmfs' size='64' create='once'/><target dev='vdb'/></disk>`), input)[0]!;
  assert.equal(once.kind === 'disk' && [once.base, once.access, once.file], [{ kind: 'empty', sizeMiB: 64, format: 'qcow2', once: 'cvmfs' }, 'overlay', '/var/lib/vmbatch/jobs/3.vm/disk-vdb.qcow2']);
  const always = planDisks(await template('QEMU', `<disk><vbdisksource source='scratch' size='64' create='always' format='raw'/><target dev='vdb'/></disk>`), input)[0]!;
  assert.equal(always.kind === 'disk' && [always.access, always.file, always.format], ['direct', '/var/lib/vmbatch/jobs/3.vm/disk-vdb.raw', 'raw']);
});

test('file:// and traversal sources are refused at planning, before anything is made', async () => {
  const refused = async (source: string) =>
    (await expectVmbatchError(async () => planDisks(await template('QEMU', `<disk><vbdisksource source='${source}' copy_method='shared'/><target dev='vda'/></disk>`), input), 'IMAGE_SOURCE_REFUSED'))
      .message;
  assert.is(
    await refused('file:///etc/shadow'),
    "the image source 'file:///etc/shadow' is refused: file:// URLs are not image sources; put the image below images.siteBase and give its relative path",
  );
  assert.is(await refused('../../etc/shadow'), "the image source '../../etc/shadow' is refused: the path leaves images.siteBase ('..' or '\\' in it)");
  assert.is(await refused('a/%2e%2e/%2E%2E/b'), "the image source 'a/%2e%2e/%2E%2E/b' is refused: the path leaves images.siteBase ('..' or '\\' in it)");
  assert.is(await refused('/srv/images/x.img'), "the image source '/srv/images/x.img' is refused: a host path is not an image source; give a path relative to images.siteBase");
  assert.is(await refused('ftp://host/x.img'), "the image source 'ftp://host/x.img' is refused: the scheme 'ftp:' is not supported (http and https are)");
});

test('a submitter image needs a disk the template lets them replace', async () => {
  const userImage = {
    source: { url: 'http://127.0.0.1/u.qcow2', hash: undefined, origin: 'submitter' as const, maxBytes: 1, allowedPrefixes: ['http://127.0.0.1/'], ownerUid: 1000 },
    copyMethod: 'shared' as const,
  };
  const error = await expectVmbatchError(async () => planDisks(await loadTemplate(join(domainsDir, 'testguest.xml')), { ...input, userImage }), 'USER_IMAGE_REFUSED');
  assert.match(error.message, 'testguest.xml has no disk a submitter may replace (<vbuserimage/>)');
  const plan = planDisks(await template('QEMU', `<disk><driver type='qcow2'/><source file='/img/default.qcow2'/><vbuserimage/><target dev='vda'/></disk>`), { ...input, userImage });
  assert.equal(plan[0]!.kind === 'disk' && [plan[0]!.base.kind, plan[0]!.access], ['shared', 'overlay']);
});

test("the slides' SLC5 DISK example: a QCOW overlay on Xen 3 that the context is written into", async () => {
  const template = await loadTemplate(join(domainsDir, 'examples', 'slc5-xen3-disk.xml'));
  const plan = planDisks(template, input);
  assert.equal(plan[0]!.kind === 'disk' && [plan[0]!.access, plan[0]!.cow, plan[0]!.file], ['overlay', 'qcow', '/var/lib/vmbatch/jobs/3.vm/disk-xvda.qcow']);
  assert.equal(plan[1]!.kind === 'disk' && [plan[1]!.base.kind, plan[1]!.access], ['shared', 'direct']);
  assert.equal(planDiskContext(template.vb.partitions, plan, input.paths.dir), [
    { role: 'rootdisk', dev: 'xvda', partition: 'xvda2', number: 2, file: '/var/lib/vmbatch/jobs/3.vm/disk-xvda.qcow', format: 'qcow' },
    { role: 'jobdisk', dev: 'xvda', partition: 'xvda3', number: 3, file: '/var/lib/vmbatch/jobs/3.vm/disk-xvda.qcow', format: 'qcow' },
  ]);
  const readonly = await expectVmbatchError(() => planDiskContext([{ name: 'rootdisk', dev: 'xvdb', partition: 'xvdb1' }], plan, input.paths.dir), 'DISK_CONTEXT_FAILED');
  assert.is(readonly.message, "cannot write the job's context into xvdb1: disk xvdb is used in place (read-only or shared); it needs a per-job copy-on-write overlay");
});

test.run();
