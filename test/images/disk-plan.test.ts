import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadTemplate } from '../../src/domain/parse-template.js';
import { planDisks } from '../../src/images/disk-plan.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const paths = jobPaths('/var/lib/vmbatch', '3.vm');

test('writable disks get a per-job overlay, the context disk the ISO', async () => {
  const plan = planDisks(await loadTemplate(join(domainsDir, 'testguest.xml')), paths);
  assert.equal(plan, [
    { kind: 'overlay', index: 1, target: 'vda', base: '/var/lib/vmbatch/guest/disk.qcow2', baseFormat: 'qcow2', file: '/var/lib/vmbatch/jobs/3.vm/disk-vda.qcow2', format: 'qcow2' },
    { kind: 'context', index: 2, target: 'hdc', file: '/var/lib/vmbatch/jobs/3.vm/context.iso', format: 'raw' },
  ]);
});

test('what this version cannot prepare is refused before anything is made', async () => {
  const disk = await expectVmbatchError(async () => planDisks(await loadTemplate(join(domainsDir, 'examples', 'slc5-xen3-disk.xml')), paths), 'METHOD_UNSUPPORTED');
  assert.match(disk.message, 'slc5-xen3-disk.xml asks for DISK contextualization, which this vmbatch version cannot prepare');
  const cernvm = await expectVmbatchError(async () => planDisks(await loadTemplate(join(domainsDir, 'examples', 'cernvm3-xen4-cdrom.xml')), paths), 'DISK_SOURCE_UNSUPPORTED');
  assert.match(cernvm.message, "disk xvdb uses <vbdisksource copy_method='download'> (downloaded images), which this vmbatch version cannot prepare");
});

test.run();
