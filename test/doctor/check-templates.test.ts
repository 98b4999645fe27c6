// The templates' lines: an empty or missing domainsDir, a missing default, an invalid template,
// a missing base image, an image not cached yet, and templates that are ready.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTemplates } from '../../src/doctor/check-templates.js';
import { entryKey, entryPaths, writeEntryMeta } from '../../src/images/cache-entry.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const template = (disks: string) =>
  `<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory><vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig><devices>` +
  `<disk type='file' device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>${disks}</devices></domain>`;
const localDisk = (file: string) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk>`;
const sharedDisk = (source: string) =>
  `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><vbdisksource source='${source}' copy_method='shared'/><target dev='vdb' bus='virtio'/></disk>`;

test.after.each(removeDoctorScratches);

test('a missing or empty domainsDir fails: every job would fail with DOMAIN_NOT_FOUND', async () => {
  const s = doctorScratch();
  const expected = (dir: string) => ({
    check: 'templates',
    status: 'fail',
    message: `no domain template (NAME.xml) in ${dir}: every job fails with DOMAIN_NOT_FOUND`,
    hint: `put the site's templates into ${dir} (domains/testguest.xml is an example) or set domainsDir to where they are`,
  });
  assert.equal(await checkTemplates(s.ctx), expected(s.domainsDir));
  rmSync(s.domainsDir, { recursive: true });
  assert.equal(await checkTemplates(s.ctx), expected(s.domainsDir));
});

test('an invalid template and one whose base image is missing fail with the catalogue texts; the missing default fails', async () => {
  const s = doctorScratch();
  writeFileSync(join(s.domainsDir, 'broken.xml'), '<domain type="qemu"><name>b</name>');
  const missing = join(s.root, 'images', 'gone.qcow2');
  writeFileSync(join(s.domainsDir, 'imageless.xml'), template(localDisk(missing)));
  assert.equal(await checkTemplates(s.ctx), [
    {
      check: 'templates',
      status: 'fail',
      message: `the default template 'testguest' (defaultDomain) is not in ${s.domainsDir} (found: broken, imageless): jobs that name no template fail with DOMAIN_NOT_FOUND`,
      hint: `add ${s.domainsDir}/testguest.xml or set defaultDomain to one of the templates found`,
    },
    {
      check: 'template broken',
      status: 'fail',
      message: `DOMAIN_XML_MALFORMED: domain template ${s.domainsDir}/broken.xml is not well-formed XML:\n  - line 1, column 35: the document ends before the end tag of <domain> (opened at line 1, column 1)`,
      hint: 'fix the XML at each position (`xmllint --noout FILE` shows the same places); `vmbatch validate FILE` checks a template without running a job',
    },
    {
      check: 'template imageless',
      status: 'fail',
      message: `BASE_IMAGE_MISSING: the base image of disk vda, ${missing}, does not exist`,
      hint: 'install the image at that path (for the test guest: make guest) or fix <source file=...> in the template',
    },
  ]);
});

test('an image fetched into the shared cache: a warn until it is cached, then ok', async () => {
  const s = doctorScratch({ defaultDomain: 'remote' });
  const url = 'http://127.0.0.1:9/images/base.qcow2';
  const local = join(s.root, 'base.qcow2');
  writeFileSync(local, '');
  writeFileSync(join(s.domainsDir, 'remote.xml'), template(localDisk(local) + sharedDisk(url)));
  assert.equal(await checkTemplates(s.ctx), [
    { check: 'templates', status: 'ok', message: `${s.domainsDir}: remote (default: remote)` },
    {
      check: 'template remote',
      status: 'warn',
      message: `the image of disk vdb, ${url}, is not in the image cache yet: the first job using it waits for the download`,
      hint: `fetch it now: vmbatch images fetch ${url}`,
    },
  ]);
  const entry = entryPaths(join(s.stateDir, 'cache'), 'download', entryKey(url));
  mkdirSync(entry.dir, { recursive: true });
  writeEntryMeta(entry, { version: 1, kind: 'download', identity: url, bytes: 0, digests: [], format: 'qcow2', virtualSize: 0, createdAt: new Date().toISOString(), sealed: false });
  assert.equal(await checkTemplates(s.ctx), [
    { check: 'templates', status: 'ok', message: `${s.domainsDir}: remote (default: remote)` },
    { check: 'template remote', status: 'ok', message: 'valid (CDROM on QEMU, 3 disk(s)); base images and boot files present' },
  ]);
});

test('a kernel booted directly that is missing fails: the guest would not start', async () => {
  const s = doctorScratch({ defaultDomain: 'direct' });
  const kernel = join(s.root, 'vmlinux');
  const initrd = join(s.root, 'initrd.img');
  writeFileSync(initrd, '');
  const text = template('').replace('<vbconfig>', `<os><type arch='x86_64' machine='pc'>hvm</type><kernel>${kernel}</kernel><initrd>${initrd}</initrd></os><vbconfig>`);
  writeFileSync(join(s.domainsDir, 'direct.xml'), text);
  assert.equal(await checkTemplates(s.ctx), [
    { check: 'templates', status: 'ok', message: `${s.domainsDir}: direct (default: direct)` },
    {
      check: 'template direct',
      status: 'fail',
      message: `the kernel of the template, ${kernel}, does not exist`,
      hint: 'install it at that path (for the test guest: make guest) or fix <os><kernel> in the template',
    },
  ]);
  writeFileSync(kernel, '');
  assert.equal(await checkTemplates(s.ctx), [
    { check: 'templates', status: 'ok', message: `${s.domainsDir}: direct (default: direct)` },
    { check: 'template direct', status: 'ok', message: 'valid (CDROM on QEMU, 1 disk(s)); base images and boot files present' },
  ]);
});

test.run();
