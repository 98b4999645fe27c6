// The config line: a configuration that loads, and one that does not, with the catalogue's message and hint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../src/doctor/check-config.js';
import { nodeDoctorContext } from '../../src/doctor/doctor-context.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

test('a valid configuration is one ok line naming the file', async () => {
  const s = doctorScratch();
  const file = join(s.root, 'vmbatch.json');
  writeFileSync(file, JSON.stringify({ stateDir: s.stateDir }));
  const ctx = nodeDoctorContext({ VMBATCH_CONFIG: file });
  assert.is(ctx.config?.stateDir, s.stateDir);
  assert.equal(await checkConfig(ctx), { check: 'config', status: 'ok', message: `${file} is valid` });
});

test('an invalid configuration is one fail line with every problem and the catalogue hint', async () => {
  const s = doctorScratch();
  const file = join(s.root, 'vmbatch.json');
  writeFileSync(file, JSON.stringify({ stateDir: 'relative', colour: 'red' }));
  const ctx = nodeDoctorContext({ VMBATCH_CONFIG: file });
  assert.is(ctx.config, undefined);
  assert.equal(await checkConfig(ctx), {
    check: 'config',
    status: 'fail',
    message: `CONFIG_INVALID: the vmbatch configuration ${file} is invalid:\n  - stateDir: Invalid input: must start with "/"\n  - unknown setting(s) colour`,
    hint: 'fix each setting listed; docs/admin.md lists every setting with its type and default',
  });
});

test('a configuration file named but missing is CONFIG_UNREADABLE', async () => {
  const ctx = nodeDoctorContext({ VMBATCH_CONFIG: '/nonexistent/vmbatch.json' });
  assert.equal(await checkConfig(ctx), {
    check: 'config',
    status: 'fail',
    message: "CONFIG_UNREADABLE: cannot read the vmbatch configuration /nonexistent/vmbatch.json: ENOENT: no such file or directory, open '/nonexistent/vmbatch.json'",
    hint: 'create it (see docs/admin.md, "Configuration") or point VMBATCH_CONFIG at the right file',
  });
});

test.run();
