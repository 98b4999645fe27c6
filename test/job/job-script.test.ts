// The job script pbs_mom names: a batch job's file, an interactive job's missing one, and what
// root must not read in its place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { readJobScript } from '../../src/job/job-script.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

let dir: string;
test.before(() => {
  dir = mkdtempSync('/tmp/vmbatch-jobscript-');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a batch job: the script file as written', () => {
  writeFileSync(join(dir, '1.vm.SC'), '#!/bin/sh\necho hi\n');
  assert.equal(readJobScript(join(dir, '1.vm.SC')), { kind: 'batch', content: '#!/bin/sh\necho hi\n' });
});

test('qsub -I: pbs_mom names a script file it never creates', () => {
  assert.equal(readJobScript(join(dir, '2.vm.SC')), { kind: 'interactive' });
});

test("a symbolic link in the script's place is not followed", async () => {
  symlinkSync('/etc/shadow', join(dir, '3.vm.SC'));
  const error = await expectVmbatchError(() => readJobScript(join(dir, '3.vm.SC')), 'JOB_SCRIPT_UNREADABLE');
  assert.is(error.message, `the job script ${dir}/3.vm.SC that pbs_mom names cannot be used: it is a symbolic link`);
});

test('a FIFO or a directory is refused without blocking', async () => {
  await execa('mkfifo', [join(dir, '4.vm.SC')]);
  mkdirSync(join(dir, '5.vm.SC'));
  for (const name of ['4.vm.SC', '5.vm.SC']) {
    const error = await expectVmbatchError(() => readJobScript(join(dir, name)), 'JOB_SCRIPT_UNREADABLE');
    assert.is(error.message, `the job script ${dir}/${name} that pbs_mom names cannot be used: it is not a regular file`);
  }
});

test.run();
