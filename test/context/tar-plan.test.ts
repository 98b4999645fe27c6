import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTarFiles } from '../../src/context/tar-plan.js';
import { readTarEntries } from '../../src/context/tar-entries.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { makeTar } from '../helpers/make-tar.js';

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-tar-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const tarfile = (name: string, extra: Partial<{ path: string; strip: number; option: 'cdrom' }> = {}) => ({ tarfile: name, path: '.', strip: 0, ...extra });

test('headers are read as they are: long names, links, gzip', async () => {
  const long = `deep/${'d'.repeat(120)}/file.txt`;
  await makeTar(
    join(dir, 'ok.tar.gz'),
    [
      { name: 'bundle', dir: true },
      { name: 'bundle/context.sh', content: 'echo hi\n', mode: 0o755 },
      { name: long, content: 'x' },
      { name: 'bundle/link', symlink: 'context.sh' },
    ],
    true,
  );
  assert.equal(
    readTarEntries(join(dir, 'ok.tar.gz')).map((e) => [e.name, e.type, e.linkName]),
    [
      ['bundle/', 'dir', ''],
      ['bundle/context.sh', 'file', ''],
      [long, 'file', ''],
      ['bundle/link', 'symlink', 'context.sh'],
    ],
  );
  assert.equal(planTarFiles([tarfile('ok.tar.gz', { strip: 1, option: 'cdrom' })], dir), [{ file: join(dir, 'ok.tar.gz'), where: 'cdrom', path: '.', strip: 1, gzip: true }]);
});

test('an archive with entries that escape is refused with every entry named', async () => {
  await makeTar(join(dir, 'evil.tar'), [
    { name: 'fine.txt', content: 'ok' },
    { name: '../../etc/cron.d/x', content: 'evil' },
    { name: '/etc/passwd', content: 'evil' },
    { name: 'up', symlink: '../../../root' },
    { name: 'abs', symlink: '/etc/shadow' },
    { name: 'inner/ok-link', symlink: '../fine.txt' },
    { name: 'hard', hardlink: '../outside' },
  ]);
  const error = await expectVmbatchError(() => planTarFiles([tarfile('evil.tar')], dir), 'TAR_UNSAFE');
  assert.is(
    error.message,
    [
      `the tar file ${join(dir, 'evil.tar')} cannot be unpacked safely:`,
      "  - ../../etc/cron.d/x: a '..' component",
      '  - /etc/passwd: an absolute path',
      '  - up: a symbolic link to ../../../root, outside the target',
      '  - abs: a symbolic link to /etc/shadow, outside the target',
      '  - hard: a hard link to ../outside, outside the target',
    ].join('\n'),
  );
  assert.is(error.hint, 'rebuild it as a plain or gzip tar with relative paths only (tar -C DIR -czf FILE .), without links that leave it or lead into it');
});

test('a link that escapes only once components are stripped is refused too', async () => {
  await makeTar(join(dir, 'strip.tar'), [{ name: 'top/link', symlink: '../x' }]);
  assert.equal(planTarFiles([tarfile('strip.tar')], dir).length, 1, 'inside top/ the link stays in the archive');
  const error = await expectVmbatchError(() => planTarFiles([tarfile('strip.tar', { strip: 1 })], dir), 'TAR_UNSAFE');
  assert.match(error.message, '  - top/link: a symbolic link to ../x, outside the target');
});

test('missing archives, traversal in tarfile= and a cdrom path off the volume are refused', async () => {
  const missing = await expectVmbatchError(() => planTarFiles([tarfile('nope.tar')], dir), 'TAR_MISSING');
  assert.is(missing.message, `the tar file 'nope.tar' of the template cannot be read at ${join(dir, 'nope.tar')} (ENOENT)`);
  await expectVmbatchError(() => planTarFiles([tarfile('../etc/x.tar')], dir), 'TAR_MISSING');
  await makeTar(join(dir, 'plain.tar'), [{ name: 'a', content: 'a' }]);
  const off = await expectVmbatchError(() => planTarFiles([tarfile('plain.tar', { path: '../x', option: 'cdrom' })], dir), 'TAR_UNSAFE');
  assert.match(off.message, "  - path='../x' must not contain '..'");
  const abs = await expectVmbatchError(() => planTarFiles([tarfile('plain.tar', { path: '/etc', option: 'cdrom' })], dir), 'TAR_UNSAFE');
  assert.match(abs.message, "  - path='/etc' must stay on the context volume");
  const home = await expectVmbatchError(() => planTarFiles([tarfile('plain.tar', { path: 'a/../../other' })], dir), 'TAR_UNSAFE');
  assert.match(home.message, "  - path='a/../../other' must not contain '..'");
});

test('an entry written through a link of the same archive is refused, however harmless each link looks', async () => {
  await makeTar(join(dir, 'chain.tar'), [
    { name: 'd', symlink: '.' },
    { name: 'd/e', symlink: '..' },
    { name: 'd/e/evil', content: 'x' },
  ]);
  const error = await expectVmbatchError(() => planTarFiles([tarfile('chain.tar')], dir), 'TAR_UNSAFE');
  assert.is(error.message.split('\n').slice(1).join('\n'), ['  - d/e: below d, a link in the same archive', '  - d/e/evil: below d, a link in the same archive'].join('\n'));
});

test('archives that cannot be checked are refused: other compressions, not a tar at all', async () => {
  await makeTar(join(dir, 'inner.tar'), [{ name: 'a', content: 'a' }]);
  await execa('xz', ['-k', '-f', join(dir, 'inner.tar')]);
  const xz = await expectVmbatchError(() => planTarFiles([tarfile('inner.tar.xz')], dir), 'TAR_UNSAFE');
  assert.is(xz.message, `the tar file ${join(dir, 'inner.tar.xz')} cannot be unpacked safely:\n  - it is xz-compressed; use a plain or gzip-compressed tar`);
  writeFileSync(join(dir, 'notes.tar'), 'x'.repeat(2048));
  const junk = await expectVmbatchError(() => planTarFiles([tarfile('notes.tar')], dir), 'TAR_UNSAFE');
  assert.match(junk.message, '  - it is not a tar archive (no ustar header)');
});

test.run();
