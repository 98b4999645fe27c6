// How a template's <vbshare> tags, the site's settings and the job's request become the job's
// directories in the guest; the working directory is the submitter's to choose, so every odd
// value of it is tried.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { planShares } from '../../src/share/plan-shares.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const alice = { user: 'alice', uid: 1001, gid: 1001, group: 'alice', home: '/home/alice', shell: '/bin/sh' };
const paths = jobPaths('/var/lib/vmbatch', '7.vm');
const shipped = () => loadTemplate(join(domainsDir, 'testguest.xml'));
const withShares = async (tags: string) => {
  const text = (await import('node:fs')).readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace(/ *<!-- the job's working directory[\s\S]*?<vbshare[^>]*\/>\n/, '');
  return parseTemplate(text.replace('</vbconfig>', `${tags}\n  </vbconfig>`), 'shares.xml');
};
const shares = (over: Record<string, unknown> = {}) => configSchema.parse({ shares: over }).shares;

test('the shipped template shares the working directory read-write at the same path; the home stays the login home when not covered', async () => {
  const plan = planShares({ template: await shipped(), shares: shares(), submitter: alice, workdir: '/home/alice/run1/', request: {}, paths });
  assert.equal(plan, {
    shared: [
      {
        what: 'workdir',
        path: '/home/alice/run1',
        mode: 'rw',
        tag: 'vbshare0',
        socket: '/var/lib/vmbatch/jobs/7.vm/share-0.sock',
        pidFile: '/var/lib/vmbatch/jobs/7.vm/share-0.pid',
        logFile: '/var/lib/vmbatch/jobs/7.vm/share-0.log',
      },
    ],
    staged: undefined,
    workdir: '/home/alice/run1',
    home: '/home/alice',
    loginHome: '/home/alice',
  });
});

test('a job submitted from its home shares the home: the SSH key moves to a guest-private login home', async () => {
  const plan = planShares({ template: await shipped(), shares: shares(), submitter: alice, workdir: undefined, request: {}, paths });
  assert.is(plan.shared[0]!.path, '/home/alice');
  assert.is(plan.loginHome, '/var/lib/vmbatch-login/alice');
});

test('vbstage=yes, a staging template and a site without shares stage the working directory', async () => {
  const staged = { hostDir: '/home/alice/run1', guestDir: '/home/alice/run1', mode: 'rw' };
  const asked = planShares({ template: await shipped(), shares: shares(), submitter: alice, workdir: '/home/alice/run1', request: { vbstage: 'yes' }, paths });
  assert.equal([asked.shared, asked.staged], [[], staged]);
  const template = await withShares("    <vbshare source='workdir' mode='ro' method='stage'/>");
  const byTemplate = planShares({ template, shares: shares(), submitter: alice, workdir: '/home/alice/run1', request: {}, paths });
  assert.equal(byTemplate.staged, { ...staged, mode: 'ro' });
  const noVirtiofs = planShares({ template: await shipped(), shares: shares({ virtiofs: false }), submitter: alice, workdir: '/home/alice/run1', request: {}, paths });
  assert.equal([noVirtiofs.shared, noVirtiofs.staged], [[], staged]);
});

test('home, workdir and site shares: one per path, parents mounted first, site paths only where allowed', async () => {
  const template = await withShares("    <vbshare source='/scratch/alice' mode='rw'/>\n    <vbshare source='workdir'/>\n    <vbshare source='home' mode='ro'/>");
  const plan = planShares({ template, shares: shares({ allowedPaths: ['/scratch'] }), submitter: alice, workdir: '/home/alice/run1', request: {}, paths });
  assert.equal(
    plan.shared.map((s) => [s.tag, s.what, s.path, s.mode]),
    [
      ['vbshare0', 'home', '/home/alice', 'ro'],
      ['vbshare1', 'site', '/scratch/alice', 'rw'],
      ['vbshare2', 'workdir', '/home/alice/run1', 'rw'],
    ],
  );
  // the working directory is the home: one share, writable
  const same = planShares({ template, shares: shares({ allowedPaths: ['/scratch'] }), submitter: alice, workdir: '/home/alice', request: {}, paths });
  assert.equal(
    same.shared.map((s) => [s.what, s.path, s.mode]),
    [
      ['workdir', '/home/alice', 'rw'],
      ['site', '/scratch/alice', 'rw'],
    ],
  );
  const refused = await expectVmbatchError(() => planShares({ template, shares: shares(), submitter: alice, workdir: '/home/alice/run1', request: {}, paths }), 'SHARE_NOT_ALLOWED');
  assert.is(
    formatError(refused),
    'vmbatch: SHARE_NOT_ALLOWED: domain template shares.xml shares /scratch/alice, which the site does not allow (shares.allowedPaths: none)\n' +
      '  hint: add the directory to shares.allowedPaths in /etc/vmbatch/vmbatch.json, or remove the <vbshare> from the template (docs/admin.md, "Shared directories")',
  );
});

test('a hostile working directory is refused with what is wrong, before anything is made', async () => {
  const template = await shipped();
  const reasons: Record<string, string> = {
    '/': 'it is / (the whole file system)',
    '//': 'it is / (the whole file system)',
    'relative/dir': 'it is not an absolute path',
    '/home/alice/../bob': "it is not a plain path (an empty, '.' or '..' component)",
    '/home//alice': "it is not a plain path (an empty, '.' or '..' component)",
    '/home/alice/./x': "it is not a plain path (an empty, '.' or '..' component)",
    '/home/alice/a\tb': 'it contains control characters (a tab, a line break, ...)',
    '/home/alice/a\nVB_UID=0': 'it contains control characters (a tab, a line break, ...)',
    '/etc': "it is /etc, a directory the guest's own system needs",
    '/proc/self/root': "it is inside /proc, a directory the guest's own system needs",
    '/var/lib/vmbatch/jobs/8.vm': "it is inside /var/lib/vmbatch, a directory the guest's own system needs",
  };
  for (const [workdir, reason] of Object.entries(reasons)) {
    const error = await expectVmbatchError(() => planShares({ template, shares: shares(), submitter: alice, workdir, request: {}, paths }), 'WORKDIR_INVALID');
    assert.is(error.message, `the job's working directory '${workdir}' cannot be given to its guest: ${reason}`, workdir);
  }
});

test('every refused combination is reported at once', async () => {
  const template = await withShares("    <vbshare source='home'/>\n    <vbshare source='workdir' method='stage'/>");
  const consoleTemplate = await withShares("    <vbshare source='workdir'/>");
  consoleTemplate.vb.remoteshell = { mode: 'console', device: '/dev/ttyS1' };
  const error = await expectVmbatchError(
    () => planShares({ template, shares: shares({ virtiofs: false }), submitter: { ...alice, home: '/' }, workdir: '/home/alice/run1', request: { vbstage: 'no' }, paths }),
    'SHARE_REFUSED',
  );
  assert.is(
    error.message,
    "the job's directories cannot be given to its guest as asked:\n" +
      '  - vbstage=no: the template shares.xml stages the working directory (its guest cannot mount shares)\n' +
      '  - the site allows no shared directories (shares.virtiofs is false), and the template shares.xml shares the home directory /',
  );
  const console = await expectVmbatchError(
    () => planShares({ template: consoleTemplate, shares: shares(), submitter: alice, workdir: '/home/alice/run1', request: { vbstage: 'yes' }, paths }),
    'SHARE_REFUSED',
  );
  assert.is(console.message, "the job's directories cannot be given to its guest as asked:\n  - vbstage=yes: the template shares.xml reaches its guest without SSH, over which the files are copied");
  const consoleNoShares = await expectVmbatchError(
    () => planShares({ template: consoleTemplate, shares: shares({ virtiofs: false }), submitter: alice, workdir: '/home/alice/run1', request: {}, paths }),
    'SHARE_REFUSED',
  );
  assert.is(
    consoleNoShares.message,
    "the job's directories cannot be given to its guest as asked:\n  - the site allows no shared directories (shares.virtiofs is false), so the working directory would be staged: the template shares.xml reaches its guest without SSH, over which the files are copied",
  );
  const homeShared = await withShares("    <vbshare source='home'/>");
  const inside = await expectVmbatchError(
    () => planShares({ template: homeShared, shares: shares(), submitter: alice, workdir: '/home/alice/run1', request: { vbstage: 'yes' }, paths }),
    'SHARE_REFUSED',
  );
  assert.is(
    inside.message,
    "the job's directories cannot be given to its guest as asked:\n  - the working directory /home/alice/run1 is staged, but it is inside the shared directory /home/alice: submit from elsewhere or do not ask for vbstage=yes",
  );
});

test.run();
