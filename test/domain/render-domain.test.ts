import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { renderDomain } from '../../src/domain/render-domain.js';
import { domainsDir } from '../helpers/paths.js';

const rendering = {
  domainName: 'vmbatch-7.vm',
  diskFiles: new Map([
    [1, { file: '/state/jobs/7.vm/disk-vda.qcow2', format: 'qcow2' }],
    [2, { file: '/state/jobs/7.vm/context.iso', format: 'raw' }],
  ]),
  consoleFile: '/state/jobs/7.vm/console.log',
  sshSocket: '/state/jobs/7.vm/ssh.sock',
};

test('a static address goes on the kernel boot line', async () => {
  const staticAddress = { address: '10.0.2.20', prefixLength: 24, gateway: '10.0.2.2', dns: ['10.0.2.3', '10.0.2.4'] };
  const xml = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), { ...rendering, staticAddress });
  assert.match(xml, '<cmdline>console=ttyS0 quiet panic=-1 vmbatch.net=10.0.2.20/24,10.0.2.2,10.0.2.3+10.0.2.4</cmdline>');
  const rootssh = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), { ...rendering, kernelParams: { user: 'alice', uid: 1001 } });
  assert.match(rootssh, '<cmdline>console=ttyS0 quiet panic=-1 vmbatch.user=alice vmbatch.uid=1001</cmdline>');
});

test('the final XML has no vb* tag, the job name, per-job disks, a console file and the SSH channel socket, and no network', async () => {
  const xml = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), rendering);
  assert.not.match(xml, /<vb/);
  assert.match(xml, '<name>vmbatch-7.vm</name>');
  assert.match(xml, '<source file="/state/jobs/7.vm/disk-vda.qcow2"/>');
  assert.match(xml, '<source file="/state/jobs/7.vm/context.iso"/>');
  assert.match(xml, '<serial type="file">\n      <source path="/state/jobs/7.vm/console.log"/>');
  assert.match(xml, '<channel type="unix">\n      <source mode="bind" path="/state/jobs/7.vm/ssh.sock"/>\n      <target type="virtio" name="org.vmbatch.ssh"/>\n    </channel>');
  // no host TCP port and no NIC: nothing of the job is in the shared loopback TCP space
  assert.not.match(xml, /hostfwd|qemu:commandline|<interface/);
});

test('libvirt accepts the rendered XML (schema check and test:///default define)', async () => {
  await assertLibvirtAccepts(renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), rendering));
});

// libvirt's schema accepts the XML, and test:///default the semantics it applies at define time (no hypervisor needed).
async function assertLibvirtAccepts(xml: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-render-'));
  try {
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    const validate = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
    assert.is(validate.exitCode, 0, validate.stderr + validate.stdout);
    const define = await execa('virsh', ['-c', 'test:///default', 'define', file], { reject: false });
    assert.is(define.exitCode, 0, define.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the job's own qemu identity: a static DAC label without relabelling replaces the template's DAC labels, other models' stay", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-render-'));
  try {
    const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
    const labelled = shipped
      .replace(
        '</devices>',
        "  <channel type='unix'><source mode='bind' path='/run/x.sock'><seclabel model='dac' relabel='yes'><label>+999:+994</label></seclabel></source><target type='virtio' name='x'/></channel>\n  </devices>",
      )
      .replace('</domain>', "<seclabel type='dynamic' model='dac' relabel='yes'/>\n<seclabel type='none'/>\n<seclabel type='none' model='selinux'/>\n</domain>");
    writeFileSync(join(dir, 'labelled.xml'), labelled);
    const xml = renderDomain(await loadTemplate(join(dir, 'labelled.xml')), { ...rendering, guestIdentity: { uid: 1900000007, gid: 994 } });
    const labels = xml.match(/<seclabel[^]*?(\/>|<\/seclabel>)/g);
    assert.equal(labels, ['<seclabel type="none" model="selinux"/>', '<seclabel type="static" model="dac" relabel="no">\n    <label>+1900000007:+994</label>\n  </seclabel>']);
    assert.match(xml, '<source mode="bind" path="/run/x.sock"/>');
    // without an identity (never in a prologue) the template is left as it is
    assert.is(renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), rendering).includes('seclabel'), false);
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    const validate = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
    assert.is(validate.exitCode, 0, validate.stderr + validate.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the job's size: <memory> and <currentMemory> in MiB whatever units the template used, <vcpu> with its attributes but not current=", async () => {
  const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace(
    "<memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>",
    "<memory unit='GiB' dumpCore='off'>1</memory>\n  <vcpu placement='static' cpuset='0-1' current='1'>2</vcpu>\n  <currentMemory unit='KiB'>524288</currentMemory>",
  );
  const template = await parseTemplate(shipped, 'sized.xml');
  const xml = renderDomain(template, { ...rendering, size: { vcpus: 2, memoryMiB: 512 } });
  assert.match(xml, '<name>vmbatch-7.vm</name>\n  <memory dumpCore="off" unit="MiB">512</memory>\n  <currentMemory unit="MiB">512</currentMemory>\n  <vcpu placement="static" cpuset="0-1">2</vcpu>\n');
  assert.is(xml.match(/<currentMemory/g)?.length, 1);
  assert.is(xml.match(/<vcpu/g)?.length, 1);
  // the shipped template has no <currentMemory>: it is added after <memory>
  const plain = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), { ...rendering, size: { vcpus: 3, memoryMiB: 1000 } });
  assert.match(plain, '<memory unit="MiB">1000</memory>\n  <currentMemory unit="MiB">1000</currentMemory>\n  <vcpu>3</vcpu>\n');
  // several vCPUs need ACPI's MADT: added where the template has no <acpi/>, never for one vCPU
  assert.match(plain, '<features>\n    <acpi/>\n    <apic/>\n  </features>');
  assert.not.match(renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), { ...rendering, size: { vcpus: 1, memoryMiB: 256 } }), '<acpi');
  const ownFeatures = await parseTemplate(shipped.replace('<devices>', "<features><pae/><apic eoi='on'/></features>\n  <devices>"), 'features.xml');
  assert.match(renderDomain(ownFeatures, { ...rendering, size: { vcpus: 2, memoryMiB: 512 } }), '<features>\n    <pae/>\n    <apic eoi="on"/>\n    <acpi/>\n  </features>');
  // without a size the template's own elements stay as written
  assert.match(renderDomain(template, rendering), '<memory unit="GiB" dumpCore="off">1</memory>');
  await assertLibvirtAccepts(xml);
});

test.run();
