// <vbshare> in a template: attributes and the list as a whole, every problem with its element path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTemplate } from '../../src/domain/parse-template.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace(/ *<!-- the job's working directory[\s\S]*?<vbshare[^>]*\/>\n/, '');

test('bad <vbshare> tags are refused with every problem and its element path', async () => {
  const tags = [
    "<vbshare source='scratch'/>",
    "<vbshare source='/' mode='rw'/>",
    "<vbshare source='home' mode='rwx'/>",
    "<vbshare source='home' method='stage'/>",
    "<vbshare source='/data/../etc'/>",
    "<vbshare source='workdir' speed='fast'/>",
    "<vbshare source='/scratch'/>",
    "<vbshare source='/scratch/'/>",
  ];
  const error = await expectVmbatchError(() => parseTemplate(shipped.replace('</vbconfig>', `${tags.join('\n')}\n</vbconfig>`), 'bad.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.is(
    error.message,
    'domain template bad.xml is invalid:\n' +
      '  - domain/vbconfig/vbshare[1]: attribute source must be workdir, home or an absolute path like /scratch\n' +
      "  - domain/vbconfig/vbshare[2]: source='/' would give the guest the node's whole file system\n" +
      "  - domain/vbconfig/vbshare[3]: attribute mode='rwx' must be one of rw, ro\n" +
      "  - domain/vbconfig/vbshare[4]: method='stage' copies the working directory only; source='home' must be shared (method='virtiofs')\n" +
      "  - domain/vbconfig/vbshare[5]: attribute source must not contain '..' components\n" +
      '  - domain/vbconfig/vbshare[6]: unknown attribute(s) speed (allowed: source, mode, method)\n' +
      "  - domain/vbconfig/vbshare: source='/scratch/' is shared twice",
  );
});

test('staging needs the SSH remoteshell; virtiofs needs QEMU or KVM', async () => {
  const consoleMode = shipped.replace('</vbconfig>', "<vbremoteshell mode='console'/>\n<vbshare source='workdir' method='stage'/>\n</vbconfig>");
  const error = await expectVmbatchError(() => parseTemplate(consoleMode, 'console.xml'), 'DOMAIN_TEMPLATE_INVALID');
  assert.match(error.message, "  - domain/vbconfig/vbshare: method='stage' copies over the job's SSH channel: the template needs <vbsshchannel/> and no <vbremoteshell mode='console'>");
});

test.run();
