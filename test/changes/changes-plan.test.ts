// Planning a job's saved changes: which disk they are of, where the submitter's layers are, and
// the templates and disks that cannot have them, each refused with why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { planChanges } from '../../src/changes/changes-plan.js';
import { configSchema } from '../../src/config/schema.js';
import { loadTemplate } from '../../src/domain/parse-template.js';
import { planDisks } from '../../src/images/disk-plan.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { domainsDir } from '../helpers/paths.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const config = configSchema.parse({ stateDir: '/s' });
const paths = jobPaths('/s', '5.vm');

async function plan(request: Record<string, string>, over: Partial<typeof config> = {}) {
  const template = await loadTemplate(join(domainsDir, 'testguest.xml'));
  const disks = planDisks(template, { paths, cacheDir: '/s/cache', siteBase: undefined, userImage: undefined });
  return planChanges({ config: { ...config, ...over }, template, disks, request, home: '/home/ann', paths });
}

test('no changes asked: no plan', async () => {
  assert.is(await plan({}), undefined);
});

test("boot from one layer and save another: the template's first writable disk, the submitter's files below their home", async () => {
  assert.equal(await plan({ vbchanges: 'tools', vbsavechanges: 'tools2' }), {
    template: join(domainsDir, 'testguest.xml'),
    target: 'vda',
    overlay: '/s/jobs/5.vm/disk-vda.qcow2',
    base: '/var/lib/vmbatch/guest/disk.qcow2',
    baseFormat: 'qcow2',
    copy: '/s/jobs/5.vm/changes-vda.qcow2',
    maxBytes: 2048 * 1048576,
    stateDir: '/s',
    load: { name: 'tools', dir: '/home/ann/.vmbatch/changes', layer: '/home/ann/.vmbatch/changes/tools.qcow2', record: '/home/ann/.vmbatch/changes/tools.json' },
    save: { name: 'tools2', dir: '/home/ann/.vmbatch/changes', layer: '/home/ann/.vmbatch/changes/tools2.qcow2', record: '/home/ann/.vmbatch/changes/tools2.json' },
  });
});

test('a template the site does not list is refused, saying which it allows', async () => {
  const error = await expectVmbatchError(() => plan({ vbsavechanges: 'x' }, { changes: { ...config.changes, templates: ['bigguest'] } }), 'CHANGES_NOT_ALLOWED');
  assert.is(error.message, `the domain template ${join(domainsDir, 'testguest.xml')} does not allow saved changes (vbchanges, vbsavechanges): the site allows them for bigguest`);
  const none = await expectVmbatchError(() => plan({ vbchanges: 'x' }, { changes: { ...config.changes, templates: [] } }), 'CHANGES_NOT_ALLOWED');
  assert.match(none.message, ': the site allows them for no template');
});

test('the config: the directory must be below the home', () => {
  const bad = configSchema.safeParse({ changes: { dir: '../x' } });
  assert.not.ok(bad.success);
  assert.not.ok(configSchema.safeParse({ changes: { dir: '/etc' } }).success);
});

test.run();
