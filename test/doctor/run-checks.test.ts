// The runner: checks run independently (one that throws is a fail line of its own, the others
// still report), checks needing the configuration are "not checked" warns when it did not load,
// and the exit code is 1 only when a line fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fail, ok, warn, type DoctorCheck } from '../../src/doctor/check-result.js';
import { doctorChecks } from '../../src/doctor/checks.js';
import { doctorExitCode, runChecks } from '../../src/doctor/run-checks.js';
import { VmbatchError } from '../../src/errors/vmbatch-error.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const checks: DoctorCheck[] = [
  { name: 'first', needs: 'node', run: async () => ok('first', 'fine') },
  {
    name: 'thrower',
    needs: 'node',
    run: async () => {
      throw new Error('boom');
    },
  },
  {
    name: 'catalogued',
    needs: 'config',
    run: async () => {
      throw new VmbatchError('TOOL_MISSING', { tool: 'qemu-img', pkg: 'qemu-utils' });
    },
  },
  { name: 'several', needs: 'config', run: async (ctx) => [warn('several a', ctx.config.stateDir, 'do a'), ok('several b', 'fine')] },
];

test.after.each(removeDoctorScratches);

test('one check throwing is a fail line for it; the others still report, in order', async () => {
  const s = doctorScratch();
  const results = await runChecks(checks, s.ctx);
  assert.equal(results, [
    { check: 'first', status: 'ok', message: 'fine' },
    { check: 'thrower', status: 'fail', message: 'the check itself failed: boom', hint: 'this is a bug in vmbatch doctor; please report it with this line' },
    {
      check: 'catalogued',
      status: 'fail',
      message: "TOOL_MISSING: the tool 'qemu-img' is not installed on this node",
      hint: 'install the Debian package qemu-utils (scripts/install-deps.sh installs everything vmbatch needs)',
    },
    { check: 'several a', status: 'warn', message: s.stateDir, hint: 'do a' },
    { check: 'several b', status: 'ok', message: 'fine' },
  ]);
  assert.is(doctorExitCode(results), 1);
});

test('without a configuration, the checks that need it are not run: a warn each', async () => {
  const s = doctorScratch();
  const results = await runChecks(
    checks.filter((c) => c.name !== 'thrower'),
    { ...s.ctx, config: undefined, configError: new Error('x') },
  );
  const notChecked = (check: string) => ({
    check,
    status: 'warn',
    message: 'not checked: the configuration did not load',
    hint: 'fix the configuration (the config line), then run `vmbatch doctor` again',
  });
  assert.equal(results, [{ check: 'first', status: 'ok', message: 'fine' }, notChecked('catalogued'), notChecked('several')]);
});

test('the exit code: 0 with only ok and warn lines, 1 with a fail line', () => {
  assert.is(doctorExitCode([ok('a', 'x'), warn('b', 'y', 'z')]), 0);
  assert.is(doctorExitCode([ok('a', 'x'), fail('b', 'y', 'z')]), 1);
  assert.is(doctorExitCode([]), 0);
});

test("the doctor's checks, in their printed order", () => {
  assert.equal(
    doctorChecks.map((c) => `${c.name} (${c.needs})`),
    [
      'config (node)',
      'libvirt (config)',
      'kvm (node)',
      'virtlogd (node)',
      'tools (node)',
      'virtiofsd (config)',
      'templates (config)',
      'warm (config)',
      'space (config)',
      'permissions (config)',
      'catalogue (config)',
      'leftovers (config)',
      'torque (config)',
      'slurm (config)',
    ],
  );
});

test.run();
