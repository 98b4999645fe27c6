// The domain XML of a job with shares: vhost-user needs shared guest memory; libvirt connects
// qemu to vmbatch's daemons and starts none of its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { renderDomain } from '../../src/domain/render-domain.js';
import { domainsDir } from '../helpers/paths.js';
import { readFileSync } from 'node:fs';

const rendering = { domainName: 'vmbatch-7.vm', diskFiles: new Map(), consoleFile: '/s/console.log', sshSocket: '/s/ssh.sock' };

test('each share is a virtiofs <filesystem> on its daemon socket, with memfd shared memory', async () => {
  const xml = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), {
    ...rendering,
    shares: [
      { tag: 'vbshare0', socket: '/s/share-0.sock' },
      { tag: 'vbshare1', socket: '/s/share-1.sock' },
    ],
  });
  assert.match(xml, '<memoryBacking>\n    <source type="memfd"/>\n    <access mode="shared"/>\n  </memoryBacking>');
  assert.match(xml, '<filesystem type="mount">\n      <driver type="virtiofs" queue="1024"/>\n      <source socket="/s/share-0.sock"/>\n      <target dir="vbshare0"/>\n    </filesystem>');
  assert.match(xml, '<source socket="/s/share-1.sock"/>\n      <target dir="vbshare1"/>');
  // no <binary>: libvirt would start virtiofsd as root
  assert.not.match(xml, /<binary/);
  const none = renderDomain(await loadTemplate(join(domainsDir, 'testguest.xml')), rendering);
  assert.not.match(none, /memoryBacking|filesystem/);
});

test("a template's huge pages stay; only shared access is added", async () => {
  const text = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8')
    .replace('<vcpu>', '<memoryBacking><hugepages/></memoryBacking>\n  <vcpu>')
    .replace(/ *<vbsize[^>]*\/>\n/, '');
  const xml = renderDomain(await parseTemplate(text, 'huge.xml'), { ...rendering, shares: [{ tag: 'vbshare0', socket: '/s/share-0.sock' }] });
  assert.match(xml, '<memoryBacking>\n    <hugepages/>\n    <access mode="shared"/>\n  </memoryBacking>');
});

test.run();
