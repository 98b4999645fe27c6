import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRteTarball } from '../../src/catalogue/check-rte-package.js';
import { makeTar } from '../helpers/make-tar.js';
import { makeRteTarball } from '../helpers/rte-packages.js';

const dir = mkdtempSync(join(tmpdir(), 'vmbatch-rtecheck-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a package in the catalogue layout passes, plain or gzip', async () => {
  await makeRteTarball(join(dir, 'ok.tar'), { runtime: { 1: 'X=1' }, data: { 'bin/tool': '#!/bin/sh\n' } });
  await makeRteTarball(join(dir, 'ok.tar.gz'), { runtime: {} }, true);
  assert.equal(await checkRteTarball(join(dir, 'ok.tar')), []);
  assert.equal(await checkRteTarball(join(dir, 'ok.tar.gz')), []);
});

test('every problem at once: missing scripts, members outside control/ and data/, links that leave the package', async () => {
  await makeTar(join(dir, 'bad.tar'), [
    { name: 'control/runtime', symlink: '/etc/passwd' },
    { name: 'data/x', content: 'x' },
    { name: 'README', content: 'stray' },
    { name: 'data/../../escape', content: 'x' },
  ]);
  assert.equal(await checkRteTarball(join(dir, 'bad.tar')), [
    'control/runtime: a symbolic link to /etc/passwd, outside the target',
    "data/../../escape: a '..' component",
    'members outside control/ and data/: README',
    'control/install is missing',
    'control/runtime is not a regular file',
  ]);
});

test('a file that is no tar archive is said to be so', async () => {
  writeFileSync(join(dir, 'junk.tar'), 'this is not a tar archive at all, just text of some length '.repeat(20));
  const problems = await checkRteTarball(join(dir, 'junk.tar'));
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /^not a tar archive vmbatch can read: /);
});

test.run();
