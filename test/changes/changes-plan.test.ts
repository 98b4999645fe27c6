// Planning a job's saved changes: which disk they are of, where the submitter's layers are, and
// the templates and disks that cannot have them, each refused with why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changesForState, planChanges } from '../../src/changes/changes-plan.js';
import { guestRootOf } from '../../src/context/guest-root.js';
import { configSchema } from '../../src/config/schema.js';
import { loadTemplate } from '../../src/domain/parse-template.js';
import { planDisks } from '../../src/images/disk-plan.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { domainsDir } from '../helpers/paths.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const config = configSchema.parse({ stateDir: '/s' });
const paths = jobPaths('/s', '5.vm');

const scratch = mkdtempSync(join(tmpdir(), 'vmbatch-changes-plan-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const policyFile = join(scratch, 'user-images.json');
writeFileSync(policyFile, JSON.stringify({ allow: ['http://127.0.0.1:8080/layers/'] }));
const withPolicy = { images: { ...config.images, userImagePolicy: policyFile } };

async function plan(request: Record<string, string>, over: Partial<typeof config> = {}, templateFile = join(domainsDir, 'testguest.xml')) {
  const template = await loadTemplate(templateFile);
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

test('a DISK template writing its context into the disk the changes are of is refused: root would read a file system the submitter wrote', async () => {
  const file = join(scratch, 'diskguest.xml');
  const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
  writeFileSync(
    file,
    shipped
      .replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>DISK</vbpreparemethod>')
      .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '')
      .replace('<devices>', "<devices>\n    <vbdisks>\n      <vbdisk name='rootdisk' dev='vda' partition='vda2'/>\n    </vbdisks>"),
  );
  const error = await expectVmbatchError(() => plan({ vbsavechanges: 'x' }, {}, file), 'CHANGES_NOT_ALLOWED');
  assert.is(
    error.message,
    `the domain template ${file} does not allow saved changes (vbchanges, vbsavechanges): it contextualizes by DISK, writing into partition vda2 of disk vda, the disk the changes are of (root's tools would read a file system your changes wrote); use a CDROM or ROOTSSH template`,
  );
});

test('a layer from a URL: under the user image policy, with its hash, its record beside it', async () => {
  const hash = 'sha256:' + 'ab'.repeat(32);
  const p = await plan({ vbchanges: 'http://127.0.0.1:8080/layers/ann/tools.qcow2', vbchangeshash: hash }, withPolicy);
  assert.equal(p?.load, {
    name: 'http://127.0.0.1:8080/layers/ann/tools.qcow2',
    url: 'http://127.0.0.1:8080/layers/ann/tools.qcow2',
    recordUrl: 'http://127.0.0.1:8080/layers/ann/tools.json',
    hash: { algorithm: 'sha256', value: 'ab'.repeat(32) },
    allowedPrefixes: ['http://127.0.0.1:8080/layers/'],
    maxVirtualBytes: 65536 * 1048576,
  });
  // the job's state (0644) keeps no query of the URL: often an access token
  const tokened = await plan({ vbchanges: 'http://127.0.0.1:8080/layers/ann/tools.qcow2?token=s3cret', vbchangeshash: hash }, withPolicy);
  assert.is(tokened?.load?.name, 'http://127.0.0.1:8080/layers/ann/tools.qcow2?…');
  assert.not.match(JSON.stringify(changesForState(tokened!)), 's3cret');
  const refusal = async (request: Record<string, string>, over: Partial<typeof config> = withPolicy) => (await expectVmbatchError(() => plan(request, over), 'CHANGES_REFUSED')).message;
  const url = 'http://127.0.0.1:8080/layers/ann/tools.qcow2';
  assert.is(
    await refusal({ vbchanges: url, vbchangeshash: hash }, {}),
    `your saved changes '${url}' are refused: this node has no user image policy (/etc/vmbatch/user-images.json), which layers from a URL follow`,
  );
  assert.is(await refusal({ vbchanges: url }), `your saved changes '${url}' are refused: a layer from a URL needs its hash: add :vbchangeshash=sha256:HEX to -l other=`);
  assert.is(
    await refusal({ vbchanges: 'http://127.0.0.1:8080/other/tools.qcow2', vbchangeshash: hash }),
    "your saved changes 'http://127.0.0.1:8080/other/tools.qcow2' are refused: it is not under a location the site allows (http://127.0.0.1:8080/layers/)",
  );
  assert.is(
    await refusal({ vbchanges: 'http://127.0.0.1:8080/layers/../etc/tools.qcow2', vbchangeshash: hash }),
    "your saved changes 'http://127.0.0.1:8080/layers/../etc/tools.qcow2' are refused: its path contains '..', '.' or '\\'",
  );
  assert.is(
    await refusal({ vbchanges: 'http://127.0.0.1:8080/layers/tools.img', vbchangeshash: hash }),
    "your saved changes 'http://127.0.0.1:8080/layers/tools.img' are refused: the URL must name a NAME.qcow2 file (its record NAME.json beside it, as a saving job writes them)",
  );
  assert.is(
    await refusal({ vbchanges: url, vbchangeshash: 'sha256:12' }),
    `your saved changes '${url}' are refused: vbchangeshash 'sha256:12' is not ALGO:HEX with ALGO one of md5, sha1, sha256, sha512`,
  );
  const stray = await expectVmbatchError(() => plan({ vbchanges: 'tools', vbchangeshash: hash }), 'RESOURCE_INVALID');
  assert.match(stray.message, 'vbchangeshash is given without a vbchanges URL (a layer of your own is named, not hashed)');
});

test("root in the guest (vbroot=yes) only as the site's guestRoot allows, each refusal saying what would be allowed", async () => {
  assert.is(guestRootOf(config, {}), false);
  assert.is(guestRootOf(config, { vbroot: 'no' }), false);
  const never = await expectVmbatchError(() => guestRootOf(config, { vbroot: 'yes', vbsavechanges: 'x' }), 'GUEST_ROOT_NOT_ALLOWED');
  assert.is(never.message, "root in your guest (vbroot=yes) is not allowed on this node: the site allows it for no job (its configuration's guestRoot is never)");
  const saving = { ...config, guestRoot: 'saving-changes' as const };
  assert.is(guestRootOf(saving, { vbroot: 'yes', vbsavechanges: 'x' }), true);
  const notSaving = await expectVmbatchError(() => guestRootOf(saving, { vbroot: 'yes', vbchanges: 'x' }), 'GUEST_ROOT_NOT_ALLOWED');
  assert.is(notSaving.message, 'root in your guest (vbroot=yes) is not allowed on this node: only a job that saves its changes (vbsavechanges=NAME) may ask for it');
  assert.match(notSaving.hint, 'vbroot=yes:vbsavechanges=NAME');
  assert.is(guestRootOf({ ...config, guestRoot: 'always' }, { vbroot: 'yes' }), true);
});

test('the config: the directory must be below the home', () => {
  const bad = configSchema.safeParse({ changes: { dir: '../x' } });
  assert.not.ok(bad.success);
  assert.not.ok(configSchema.safeParse({ changes: { dir: '/etc' } }).success);
});

test.run();
