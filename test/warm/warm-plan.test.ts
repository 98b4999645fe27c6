// planWarmStart on the shipped test guest made a warm-start template: one key per guest whatever the job, the job's own XML for the restore, overlays over the frozen disks, and why a job boots cold all the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTemplate, type DomainTemplate } from '../../src/domain/parse-template.js';
import type { DomainRendering } from '../../src/domain/render-domain.js';
import { planDisks } from '../../src/images/disk-plan.js';
import { domainNameFor } from '../../src/job/names.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { isWarmPlan, planWarmStart, type WarmPlan } from '../../src/warm/warm-plan.js';
import { domainsDir } from '../helpers/paths.js';

const stateDir = '/var/lib/vmbatch';
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const workdirShare = "<vbshare source='workdir' mode='rw'/>";
const baseSource = "<source file='/var/lib/vmbatch/guest/disk.qcow2'/>";
// the shipped guest with <vbwarmstart/> and its working directory staged (a share cannot be saved)
const warmText = shipped.replace('<vbconfig>', '<vbconfig>\n    <vbwarmstart/>').replace(workdirShare, "<vbshare source='workdir' mode='rw' method='stage'/>");
const warmTemplate = (text = warmText) => parseTemplate(text, '/etc/vmbatch/domains/warm.xml');

// what planPrologue hands planWarmStart for a job (src/plan/prologue-plan.ts)
function jobInput(template: DomainTemplate, job: { id: string; uid: number; size?: { vcpus: number; memoryMiB: number }; shares?: DomainRendering['shares'] }) {
  const paths = jobPaths(stateDir, job.id);
  const disks = planDisks(template, { paths, cacheDir: '/var/cache/vmbatch', siteBase: 'http://images.example.org/vm/', userImage: undefined });
  const rendering: DomainRendering = {
    domainName: domainNameFor(job.id),
    diskFiles: new Map(disks.map((d) => [d.index, { file: d.file, format: d.format }])),
    consoleFile: paths.consoleFile,
    sshSocket: template.vb.sshChannel ? paths.sshSocket : undefined,
    staticAddress: undefined,
    loginConsoleSocket: undefined,
    kernelParams: undefined,
    extraDisks: undefined,
    guestIdentity: { uid: job.uid, gid: job.uid },
    size: job.size ?? { vcpus: 1, memoryMiB: 256 },
    shares: job.shares ?? [],
  };
  return { template, rendering, disks, stateDir };
}

const planned = (input: Parameters<typeof planWarmStart>[0]): WarmPlan => {
  const plan = planWarmStart(input);
  assert.ok(isWarmPlan(plan), JSON.stringify(plan));
  return plan;
};

test('the template parses as warm start; two jobs of it (other ids, directories, uids) have the same key', async () => {
  const template = await warmTemplate();
  assert.equal(template.vb.warmStart, { pool: 0, idle: 3600, build: 'admin' });
  const a = planned(jobInput(template, { id: '7.vm', uid: 64001 }));
  const b = planned(jobInput(template, { id: '1234[5].cluster.example.org', uid: 64099 }));
  assert.match(a.key, /^[0-9a-f]{64}$/);
  assert.is(a.key, b.key);
  assert.equal(a.entry, b.entry);
  assert.equal(a.entry, {
    dir: `/var/lib/vmbatch/warm/${a.key.slice(0, 16)}`,
    meta: `/var/lib/vmbatch/warm/${a.key.slice(0, 16)}/meta.json`,
    memoryState: `/var/lib/vmbatch/warm/${a.key.slice(0, 16)}/memory.state`,
    lock: `/var/lib/vmbatch/warm/.${a.key.slice(0, 16)}.lock`,
  });
  assert.is(a.stateDir, stateDir);
  assert.is.not(a.domainXml, b.domainXml, 'each job restores its own XML');
  // a build's nonce is on its boot line only, never in the key
  assert.is(planned({ ...jobInput(template, { id: '7.vm', uid: 64001 }), nonce: '0123456789abcdef0123456789abcdef' }).key, a.key);
});

test('another kernel line or base disk is another guest: another key', async () => {
  const template = await warmTemplate();
  const key = planned(jobInput(template, { id: '7.vm', uid: 64001 })).key;
  const cmdline = await warmTemplate(warmText.replace('quiet panic=-1', 'quiet panic=-1 init=/bin/sh'));
  assert.is.not(planned(jobInput(cmdline, { id: '7.vm', uid: 64001 })).key, key);
  // the base is not in the XML (the job's overlay is): the key names it all the same
  const otherBase = await warmTemplate(warmText.replace(baseSource, "<source file='/srv/images/other.qcow2'/>"));
  const other = planned(jobInput(otherBase, { id: '7.vm', uid: 64001 }));
  assert.is.not(other.key, key);
  assert.is(other.domainXml, planned(jobInput(template, { id: '7.vm', uid: 64001 })).domainXml, 'the same job XML: only the base differs');
});

test("the job's XML: its name, identity and files, its ISO in the CD-ROM, vmbatch.warm=0 on the boot line; the build's: an empty CD-ROM", async () => {
  const template = await warmTemplate();
  const plan = planned(jobInput(template, { id: '7.vm', uid: 64001 }));
  const xml = plan.domainXml;
  assert.match(xml, '<name>vmbatch-7.vm</name>');
  assert.match(xml, '<cmdline>console=ttyS0 quiet panic=-1 vmbatch.warm=0</cmdline>');
  assert.match(xml, '<source file="/var/lib/vmbatch/jobs/7.vm/disk-vda.qcow2"/>');
  assert.match(xml, '<source path="/var/lib/vmbatch/jobs/7.vm/console.log"/>');
  assert.match(xml, '<source mode="bind" path="/var/lib/vmbatch/jobs/7.vm/ssh.sock"/>');
  assert.match(xml, '<label>+64001:+64001</label>');
  const cdromOf = (text: string) => /<disk type="file" device="cdrom">[\s\S]*?<\/disk>/.exec(text)?.[0];
  assert.match(cdromOf(xml) ?? '', '<source file="/var/lib/vmbatch/jobs/7.vm/context.iso"/>');
  assert.match(cdromOf(xml) ?? '', '<target dev="hdc" bus="ide"/>');
  const empty = cdromOf(plan.buildXml);
  assert.ok(empty, plan.buildXml);
  assert.not.match(empty, '<source');
  assert.not.match(plan.buildXml, 'context.iso');
  assert.not.match(xml, /<vb|vbwarm|\/vmbatch-warm/);
  assert.not.match(xml, /filesystem|memoryBacking/);
  // a build's boot line carries its readiness nonce
  const build = planned({ ...jobInput(template, { id: '7.vm', uid: 64001 }), nonce: 'feedc0de' });
  assert.match(build.buildXml, '<cmdline>console=ttyS0 quiet panic=-1 vmbatch.warm=feedc0de</cmdline>');
});

test("overlays go over the entry's frozen disks; the fingerprint names the base, kernel, initrd, QEMU and libvirt", async () => {
  const plan = planned(jobInput(await warmTemplate(), { id: '7.vm', uid: 64001 }));
  assert.equal(plan.overlays, [{ target: 'vda', file: '/var/lib/vmbatch/jobs/7.vm/disk-vda.qcow2', frozen: `${plan.entry.dir}/disk-vda.qcow2`, format: 'qcow2' }]);
  assert.equal(plan.fingerprintFiles, [
    '/var/lib/vmbatch/guest/disk.qcow2',
    '/var/lib/vmbatch/guest/vmlinux',
    '/var/lib/vmbatch/guest/initrd.img',
    '/usr/bin/qemu-system-x86_64',
    '/usr/sbin/libvirtd',
    '/usr/sbin/virtqemud',
  ]);
  // a template's own emulator is the one fingerprinted; a read-only disk used in place is too
  const own = warmText
    .replace('<devices>', '<devices>\n    <emulator>/opt/qemu/bin/qemu-system-x86_64</emulator>')
    .replace(
      '<vbsshchannel/>',
      "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/srv/data/ref.img'/><target dev='vdb' bus='virtio'/><readonly/></disk>\n    <vbsshchannel/>",
    );
  const ownPlan = planned(jobInput(await warmTemplate(own), { id: '7.vm', uid: 64001 }));
  assert.equal(ownPlan.fingerprintFiles, [
    '/var/lib/vmbatch/guest/disk.qcow2',
    '/srv/data/ref.img',
    '/var/lib/vmbatch/guest/vmlinux',
    '/var/lib/vmbatch/guest/initrd.img',
    '/opt/qemu/bin/qemu-system-x86_64',
    '/usr/sbin/libvirtd',
    '/usr/sbin/virtqemud',
  ]);
  assert.equal(
    ownPlan.overlays.map((o) => o.target),
    ['vda'],
    'a disk used in place has no overlay',
  );
  assert.match(ownPlan.domainXml, '<source file="/srv/data/ref.img"/>');
});

test('a job with shares, or with a disk that is not a local file, boots cold: the reason, exactly', async () => {
  const template = await warmTemplate();
  assert.equal(planWarmStart(jobInput(template, { id: '7.vm', uid: 64001, shares: [{ tag: 'vbshare0', socket: '/var/lib/vmbatch/jobs/7.vm/share-0.sock' }] })), {
    skipped: 'the job shares directories over virtiofs, which a saved state cannot have',
  });
  const fetched = await warmTemplate(warmText.replace(baseSource, "<vbdisksource source='debian.qcow2' copy_method='download'/>"));
  assert.equal(planWarmStart(jobInput(fetched, { id: '7.vm', uid: 64001 })), { skipped: "disk vda is not a local file (a job's own image, a fetched or a created disk)" });
  const cached = await warmTemplate(warmText.replace(baseSource, "<vbdisksource source='debian.qcow2' copy_method='shared'/>"));
  assert.equal(planWarmStart(jobInput(cached, { id: '7.vm', uid: 64001 })), { skipped: "disk vda is not a local file (a job's own image, a fetched or a created disk)" });
  const created = await warmTemplate(
    warmText.replace(baseSource, "<vbdisksource source='scratch' size='64' create='always'/>").replace("<driver name='qemu' type='qcow2'/>\n      <vbdisksource", '<vbdisksource'),
  );
  assert.equal(planWarmStart(jobInput(created, { id: '7.vm', uid: 64001 })), { skipped: "disk vda is not a local file (a job's own image, a fetched or a created disk)" });
  assert.is(isWarmPlan({ skipped: 'x' }), false);
  assert.is(isWarmPlan(undefined), false);
});

test('another size is another guest: another key, and the plan names the size a build must be asked for', async () => {
  const template = await warmTemplate();
  const base = planned(jobInput(template, { id: '7.vm', uid: 64001 }));
  assert.equal(base.size, { vcpus: 1, memoryMiB: 256 });
  const bigger = planned(jobInput(template, { id: '7.vm', uid: 64001, size: { vcpus: 2, memoryMiB: 256 } }));
  assert.is.not(bigger.key, base.key);
  assert.equal(bigger.size, { vcpus: 2, memoryMiB: 256 });
  assert.is.not(planned(jobInput(template, { id: '7.vm', uid: 64001, size: { vcpus: 1, memoryMiB: 512 } })).key, base.key);
});

test.run();
