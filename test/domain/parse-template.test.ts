import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const wrap = (vbconfig: string, devices: string, type = 'qemu') => `<domain type='${type}'><name>t</name><memory unit='MiB'>64</memory>${vbconfig}<devices>${devices}</devices></domain>`;
const cdromConfig = '<vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig>';
const cdromDisk = "<disk type='file' device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>";

test('the shipped test guest and the slides examples validate', async () => {
  const t = await loadTemplate(join(domainsDir, 'testguest.xml'));
  assert.is(t.vb.prepareMethod, 'CDROM');
  assert.is(t.vb.hypervisor, 'QEMU');
  assert.is(t.vb.sshChannel, true);
  assert.is(t.disks.length, 2);
  const cernvm = await loadTemplate(join(domainsDir, 'examples', 'cernvm3-xen4-cdrom.xml'));
  assert.equal(cernvm.vb.tarFiles, [{ tarfile: 'alice.tar', path: '.', strip: 1, option: 'cdrom' }]);
  assert.equal(cernvm.disks[1]?.vbdisksource, { source: 'cernvm-hd.vhd', size: 20480, create: 'always', format: 'vhd-util-vhd' });
  const slc5 = await loadTemplate(join(domainsDir, 'examples', 'slc5-xen3-disk.xml'));
  assert.equal(slc5.vb.partitions, [
    { name: 'rootdisk', dev: 'xvda', partition: 'xvda2' },
    { name: 'jobdisk', dev: 'xvda', partition: 'xvda3' },
  ]);
  assert.is(slc5.vb.jobPath, '/torque/mom_priv/jobs');
});

test('<vbsshforward> is refused with why and what to write instead; <vbsshchannel/> is checked', async () => {
  const old = await expectVmbatchError(() => parseTemplate(wrap(cdromConfig, `${cdromDisk}<vbsshforward port='22' slot='0x10'/>`), 'old.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    old.message,
    [
      'domain template old.xml is invalid:',
      "  - domain/devices/vbsshforward: <vbsshforward> is no longer supported: its SSH forward is a TCP port on the host's loopback, which every local user can reach and take first (the job then fails to start); write <vbsshchannel/> instead: SSH over a virtio-serial port whose host side is a unix socket only the submitter and root may open",
    ].join('\n'),
  );
  const rootssh = '<vbconfig><vbpreparemethod>ROOTSSH</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig>';
  const bad = await expectVmbatchError(() => parseTemplate(wrap(rootssh, "<vbsshchannel port='22'/>"), 'bad.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(bad.message, ['domain template bad.xml is invalid:', '  - domain/devices/vbsshchannel: unknown attribute(s) port (this tag takes no attributes)'].join('\n'));
  const missing = await expectVmbatchError(() => parseTemplate(wrap(rootssh, ''), 'none.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(missing.message, '  - domain/devices: ROOTSSH contextualization needs <vbsshchannel/> (the host logs in to the guest through it)');
  const xen = await expectVmbatchError(
    () => parseTemplate(wrap('<vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>XEN4</vbhypervisor></vbconfig>', `${cdromDisk}<vbsshchannel/><vbsshchannel/>`, 'xen'), 'xen.xml'),
    'DOMAIN_TEMPLATE_INVALID',
  );
  assert.match(xen.message, '  - domain/devices: <vbsshchannel> may appear only once\n  - domain/devices: <vbsshchannel> needs QEMU or KVM (a virtio-serial port whose host side is a unix socket)');
  const ok = await parseTemplate(wrap(cdromConfig, `${cdromDisk}<vbsshchannel/>`), 'ok.xml');
  assert.is(ok.vb.sshChannel, true);
  assert.is((await parseTemplate(wrap(cdromConfig, cdromDisk), 'none.xml')).vb.sshChannel, false);
});

test('malformed XML names the file, each problem and its position', async () => {
  const e = await expectVmbatchError(() => parseTemplate("<domain type='qemu'>\n  <name>x</name>\n  <vbconfig>\n</domain>\n", 'bad.xml'), 'DOMAIN_XML_MALFORMED');
  assert.is(
    e.message,
    'domain template bad.xml is not well-formed XML:\n  - line 4, column 1: the end tag </domain> does not match the open element <vbconfig> (line 3, column 3), which has no end tag',
  );
  assert.is(e.kind, 'permanent');
});

test('every problem is reported at once with the element it concerns', async () => {
  const xml = wrap(
    '<vbconfig><vbpreparemethod>FLOPPY</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor><vbcolour/></vbconfig>',
    `<disk device='disk'><vbdisksource source='a.img' copy_method='download' speed='fast'/><vbcheckhash hashfunction='/usr/bin/md5sum' hashvalue='abc'/><target dev='vda'/></disk>` +
      `<disk device='cdrom'><vbpreparecdrom/><target dev='hdc'/></disk>`,
  );
  const e = await expectVmbatchError(() => parseTemplate(xml, 'many.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    e.message,
    [
      'domain template many.xml is invalid:',
      "  - domain/vbconfig/vbpreparemethod: text 'FLOPPY' must be one of CDROM, DISK, ROOTSSH",
      '  - domain/vbconfig/vbcolour: unknown tag <vbcolour> (vb* tags allowed in <vbconfig>: vbpreparemethod, vbhypervisor, vbjobpath, vbreadiness, vbremoteshell, vbcatalogue, vbsize, vbshare, vbwarmstart, vbtarfiles)',
      '  - domain/devices/disk[1]/vbdisksource: unknown attribute(s) speed (allowed: source, copy_method, size, create, format)',
      '  - domain/devices/disk[1]/vbcheckhash: hashvalue must have 32 hex digits for md5, not 3',
      '  - domain/devices/disk[2]/vbpreparecdrom: attribute source is required',
    ].join('\n'),
  );
  assert.is(e.hint, 'docs/domain-templates.md lists every vb* tag, where it may stand and its attributes');
});

test('disk image tags: formats, created disks, hashes and submitter disks are checked together', async () => {
  const xml = wrap(
    cdromConfig,
    `<disk><vbdisksource source='c' size='64' create='once' format='vmdk'/><target dev='vda'/></disk>` +
      `<disk><vbdisksource source='d.img' copy_method='shared' format='raw'/><vbuserimage/><target dev='vdb'/></disk>` +
      `<disk><vbdisksource source='e' size='8' create='always'/><vbuserimage/><vbcheckhash hashfunction='sha3' hashvalue='ab'/><target dev='vdc'/></disk>` +
      cdromDisk,
  );
  const e = await expectVmbatchError(() => parseTemplate(xml, 'img.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    e.message,
    [
      'domain template img.xml is invalid:',
      "  - domain/devices/disk[1]/vbdisksource: attribute format='vmdk' must be one of raw, qcow2, qcow, vhd, vpc, vhd-util-vhd",
      "  - domain/devices/disk[2]/vbdisksource: format= is for created disks (create=...); a fetched image's format is <driver type=...>",
      "  - domain/devices/disk[3]/vbcheckhash: hashfunction 'sha3' is not one of md5, sha1, sha256, sha512 (or their *sum tool paths)",
      '  - domain/devices/disk[3]: <vbuserimage/> marks a disk with an image; it cannot stand with <vbpreparecdrom> or a created disk',
      '  - domain/devices: <vbuserimage/> may mark only one disk',
    ].join('\n'),
  );
});

test('a vb tag in the wrong place, a missing vbconfig and a type mismatch are reported', async () => {
  const misplaced = await expectVmbatchError(() => parseTemplate(wrap(cdromConfig, cdromDisk + '<vbpreparecdrom source="x"/>'), 'm.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(misplaced.message, '  - domain/devices/vbpreparecdrom: <vbpreparecdrom> belongs in <disk>, not in <devices>');
  const none = await expectVmbatchError(() => parseTemplate(wrap('', cdromDisk), 'n.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(none.message, 'domain: <vbconfig> is required (with at least <vbpreparemethod> and <vbhypervisor>)');
  const mismatch = await expectVmbatchError(() => parseTemplate(wrap(cdromConfig, cdromDisk, 'kvm'), 'k.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(mismatch.message, "domain: type='kvm' does not match <vbhypervisor>QEMU</vbhypervisor>, which needs type='qemu'");
});

test('CDROM needs exactly one context disk; DISK needs partitions and a job path', async () => {
  const noCd = await expectVmbatchError(() => parseTemplate(wrap(cdromConfig, "<disk><source file='/a'/><target dev='vda'/></disk>"), 'c.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(noCd.message, 'CDROM contextualization needs exactly one <disk> with <vbpreparecdrom>, found 0');
  const disk = await expectVmbatchError(
    () => parseTemplate(wrap('<vbconfig><vbpreparemethod>DISK</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig>', "<disk><source file='/a'/><target dev='vda'/></disk>"), 'd.xml'),
    'DOMAIN_TEMPLATE_INVALID',
  );
  assert.match(disk.message, 'DISK contextualization needs <vbdisks> with at least one <vbdisk>');
  assert.match(disk.message, 'DISK contextualization needs <vbjobpath>');
});

test('<vbwarmstart/>: the shipped guest with its working directory staged parses as warm start; without the tag it is not', async () => {
  const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
  const warm = shipped.replace('<vbconfig>', '<vbconfig><vbwarmstart/>').replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='rw' method='stage'/>");
  const t = await parseTemplate(warm, 'warm.xml');
  assert.equal(t.vb.warmStart, { pool: 0, idle: 3600, build: 'admin' });
  assert.equal(t.vb.shares, [{ source: 'workdir', mode: 'rw', method: 'stage' }]);
  assert.is((await loadTemplate(join(domainsDir, 'testguest.xml'))).vb.warmStart, undefined);
  // KVM is QEMU too; an empty <vbwarmstart></vbwarmstart> is the same tag
  const kvm = warm
    .replace("<domain type='qemu'>", "<domain type='kvm'>")
    .replace('<vbhypervisor>QEMU</vbhypervisor>', '<vbhypervisor>KVM</vbhypervisor>')
    .replace('<vbwarmstart/>', '<vbwarmstart></vbwarmstart>');
  assert.equal((await parseTemplate(kvm, 'kvm.xml')).vb.warmStart, { pool: 0, idle: 3600, build: 'admin' });
});

test('<vbwarmstart/> refuses what a saved guest cannot have, each with why and what to do', async () => {
  const warmConfig = (method: string, hypervisor: string, rest = '') =>
    `<vbconfig><vbwarmstart/><vbpreparemethod>${method}</vbpreparemethod><vbhypervisor>${hypervisor}</vbhypervisor>${rest}</vbconfig>`;
  const kernel = '<os><type>hvm</type><kernel>/boot/vmlinux</kernel><cmdline>console=ttyS0</cmdline></os>';
  const withOs = (xml: string, os = kernel) => xml.replace('<vbconfig>', `${os}<vbconfig>`);

  const xen = await expectVmbatchError(() => parseTemplate(withOs(wrap(warmConfig('CDROM', 'XEN4'), cdromDisk, 'xen')), 'xen.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(xen.message, ['domain template xen.xml is invalid:', '  - domain/vbconfig/vbwarmstart: warm start needs QEMU or KVM (a saved QEMU state), not XEN4'].join('\n'));

  const rootssh = await expectVmbatchError(() => parseTemplate(withOs(wrap(warmConfig('ROOTSSH', 'QEMU'), '<vbsshchannel/>')), 'rootssh.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    rootssh.message,
    [
      'domain template rootssh.xml is invalid:',
      "  - domain/vbconfig/vbwarmstart: warm start hands the job its context on the restored guest's CD-ROM; ROOTSSH contextualization cannot (use CDROM)",
    ].join('\n'),
  );

  // a cloud-init guest is built with a seed that starts the warm-start agent: allowed
  const cloud = await parseTemplate(withOs(wrap(warmConfig('CDROM', 'QEMU'), cdromDisk.replace("source='context.iso'", "source='context.iso' style='cloud-init'"))), 'cloud.xml');
  assert.equal(cloud.vb.warmStart, { pool: 0, idle: 3600, build: 'admin' });

  const shared = await expectVmbatchError(
    () => parseTemplate(withOs(wrap(warmConfig('CDROM', 'QEMU', "<vbshare source='workdir' mode='rw'/><vbshare source='/srv/data' mode='ro'/>"), `${cdromDisk}<vbsshchannel/>`)), 'shared.xml'),
    'DOMAIN_TEMPLATE_INVALID',
  );
  assert.is(
    shared.message,
    [
      'domain template shared.xml is invalid:',
      "  - domain/vbconfig/vbwarmstart: <vbshare source='workdir'> is shared over virtiofs, which QEMU cannot save in a guest's state; stage it (method='stage', the working directory only) or leave warm start off",
      "  - domain/vbconfig/vbwarmstart: <vbshare source='/srv/data'> is shared over virtiofs, which QEMU cannot save in a guest's state; stage it (method='stage', the working directory only) or leave warm start off",
    ].join('\n'),
  );

  const direct = '  - domain/vbconfig/vbwarmstart: the guest must boot a kernel directly (<os><kernel>): its boot line tells the guest it is the warm copy';
  const noOs = await expectVmbatchError(() => parseTemplate(wrap(warmConfig('CDROM', 'QEMU'), cdromDisk), 'noos.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(noOs.message, ['domain template noos.xml is invalid:', direct].join('\n'));
  const bootloader = await expectVmbatchError(
    () => parseTemplate(withOs(wrap(warmConfig('CDROM', 'QEMU'), cdromDisk), "<os><type>hvm</type><boot dev='hd'/></os>"), 'hd.xml'),
    'DOMAIN_TEMPLATE_INVALID',
  );
  assert.is(bootloader.message, ['domain template hd.xml is invalid:', direct].join('\n'));

  // every problem at once, with the other checks' own
  const all = await expectVmbatchError(
    () => parseTemplate(wrap(warmConfig('DISK', 'XEN3', "<vbshare source='/srv/data'/>"), "<disk><source file='/a'/><target dev='xvda'/></disk>", 'xen'), 'all.xml'),
    'DOMAIN_TEMPLATE_INVALID',
  );
  for (const line of [
    '  - domain/vbconfig/vbwarmstart: warm start needs QEMU or KVM (a saved QEMU state), not XEN3',
    "  - domain/vbconfig/vbwarmstart: warm start hands the job its context on the restored guest's CD-ROM; DISK contextualization cannot (use CDROM)",
    "  - domain/vbconfig/vbwarmstart: <vbshare source='/srv/data'> is shared over virtiofs, which QEMU cannot save in a guest's state; stage it (method='stage', the working directory only) or leave warm start off",
    direct,
  ])
    assert.match(all.message, line);
});

test('<vbwarmstart>: a pool, an idle limit and who builds; every bad attribute named at once; only in <vbconfig>', async () => {
  const kernel = '<os><type>hvm</type><kernel>/boot/vmlinux</kernel></os>';
  const withTag = (tag: string) => wrap(cdromConfig.replace('<vbconfig>', `<vbconfig>${tag}`), cdromDisk).replace('<vbconfig>', `${kernel}<vbconfig>`);
  assert.equal((await parseTemplate(withTag("<vbwarmstart pool='2' idle='900' build='auto'/>"), 'pool.xml')).vb.warmStart, { pool: 2, idle: 900, build: 'auto' });
  const attr = await expectVmbatchError(() => parseTemplate(withTag("<vbwarmstart nonce='x' pool='-1' idle='30' build='job'/>"), 'attr.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    attr.message,
    [
      'domain template attr.xml is invalid:',
      '  - domain/vbconfig/vbwarmstart: attribute pool must be a whole number (0 for no pool)',
      '  - domain/vbconfig/vbwarmstart: attribute idle must be at least 60 seconds',
      "  - domain/vbconfig/vbwarmstart: attribute build='job' must be one of admin, auto",
      '  - domain/vbconfig/vbwarmstart: unknown attribute(s) nonce (allowed: pool, idle, build)',
    ].join('\n'),
  );
  const big = await expectVmbatchError(() => parseTemplate(withTag("<vbwarmstart pool='17'/>"), 'big.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(big.message, ['domain template big.xml is invalid:', '  - domain/vbconfig/vbwarmstart: attribute pool is more than 16 waiting guests'].join('\n'));
  const misplaced = await expectVmbatchError(() => parseTemplate(wrap(cdromConfig, `${cdromDisk}<vbwarmstart/>`).replace('<vbconfig>', `${kernel}<vbconfig>`), 'm.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(misplaced.message, ['domain template m.xml is invalid:', '  - domain/devices/vbwarmstart: <vbwarmstart> belongs in <vbconfig>, not in <devices>'].join('\n'));
});

test.run();
