// The Slurm lines: nothing of Slurm is not a Slurm node (ok); the parts as install-hooks writes
// them are ok; a plugstack.conf without the plugin, a missing wrapper, a plugstack.conf without
// vmbatch's line fail with the command that mends them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSlurmHooks } from '../../src/doctor/check-slurm-hooks.js';
import { applyInstallPlan } from '../../src/install/apply-install-plan.js';
import { vmbatchMain } from '../../src/install/installed-paths.js';
import { planSlurmHooks } from '../../src/install/slurm-hooks.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

const run = 'run `vmbatch install-hooks slurm` (it prints what it changes)';

test('no plugstack.conf and no plugin: not a Slurm node, one ok line', async () => {
  const s = doctorScratch();
  assert.equal(await checkSlurmHooks(s.ctx), [{ check: 'slurm', status: 'ok', message: `not a Slurm node: no ${s.ctx.slurm.plugstack} and no ${s.ctx.slurm.plugin}` }]);
});

test('installed: ok; then a wrapper gone and the plugin line removed: fail each; then the plugin gone: one fail', async () => {
  const s = doctorScratch();
  const { prefix, plugstack, plugin } = s.ctx.slurm;
  writeFileSync(plugin, 'plugin');
  applyInstallPlan(planSlurmHooks({ ...s.ctx.slurm, config: s.ctx.configPath, node: process.execPath, main: vmbatchMain }, false));
  assert.equal(await checkSlurmHooks(s.ctx), [
    { check: 'slurm slurm-hook', status: 'ok', message: `${prefix}/slurm-hook: vmbatch's, as install-hooks writes it` },
    { check: 'slurm slurm-task', status: 'ok', message: `${prefix}/slurm-task: vmbatch's, as install-hooks writes it` },
    { check: 'slurm plugstack', status: 'ok', message: `${plugstack}: vmbatch's, as install-hooks writes it` },
  ]);
  rmSync(join(prefix, 'slurm-task'));
  writeFileSync(plugstack, 'optional /x/site.so\n');
  assert.equal((await checkSlurmHooks(s.ctx)).slice(1), [
    { check: 'slurm slurm-task', status: 'fail', message: `${prefix}/slurm-task is missing: the plugin runs it for every job`, hint: run },
    { check: 'slurm plugstack', status: 'fail', message: `${plugstack} does not load vmbatch's plugin: slurmd runs jobs on the node itself`, hint: `${run}, then restart slurmd` },
  ]);
  rmSync(plugin);
  assert.equal(await checkSlurmHooks(s.ctx), [
    {
      check: 'slurm plugin',
      status: 'fail',
      message: `${plugin} is missing: ${plugstack} exists, so slurmd runs jobs here, on the node itself`,
      hint: 'install the vmbatch-slurm package (make deb builds it beside vmbatch), or build the plugin from a checkout (make install-slurm); --plugin FILE names it where it is',
    },
  ]);
});

test.run();
