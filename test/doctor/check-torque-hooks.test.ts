// The Torque lines: no mom_priv is not a Torque node (ok); hooks as install-hooks writes them are
// ok; a hook pbs_mom would refuse (mode), one missing, a site's own hook, and a config without
// the $job_starter line fail with the command that mends them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTorqueHooks } from '../../src/doctor/check-torque-hooks.js';
import { applyInstallPlan } from '../../src/install/apply-install-plan.js';
import { vmbatchMain } from '../../src/install/installed-paths.js';
import { planTorqueHooks } from '../../src/install/torque-hooks.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

// A scratch node whose mom_priv holds vmbatch's hooks as `install-hooks torque` writes them.
function installedNode() {
  const s = doctorScratch();
  const momPriv = join(s.root, 'mom_priv');
  mkdirSync(momPriv);
  const s2 = { ...s, ctx: { ...s.ctx, config: { ...s.ctx.config, torque: { momPriv } } } };
  const starter = join(s.root, 'sbin', 'vmbatch-remoteshell');
  applyInstallPlan(planTorqueHooks({ momPriv, starter, config: s.ctx.configPath, node: process.execPath, main: vmbatchMain }, false));
  return { ...s2, momPriv, starter };
}

test('no mom_priv: not a Torque node, one ok line', async () => {
  const s = doctorScratch({ torque: { momPriv: '/nonexistent/mom_priv' } });
  assert.equal(await checkTorqueHooks(s.ctx), [{ check: 'torque', status: 'ok', message: 'not a Torque node: no /nonexistent/mom_priv (set torque.momPriv where pbs_mom keeps it elsewhere)' }]);
});

test('hooks as install-hooks writes them: ok, one line each', async () => {
  const n = installedNode();
  assert.equal(await checkTorqueHooks(n.ctx), [
    { check: 'torque prologue', status: 'ok', message: `${n.momPriv}/prologue: vmbatch's, as install-hooks writes it` },
    { check: 'torque epilogue', status: 'ok', message: `${n.momPriv}/epilogue: vmbatch's, as install-hooks writes it` },
    { check: 'torque vmbatch-remoteshell', status: 'ok', message: `${n.starter}: vmbatch's, as install-hooks writes it` },
    { check: 'torque $job_starter', status: 'ok', message: `${n.momPriv}/config: $job_starter ${n.starter}` },
  ]);
});

test("a hook pbs_mom would refuse, a missing one, a site's own: fail, with the command that mends each", async () => {
  const n = installedNode();
  chmodSync(join(n.momPriv, 'prologue'), 0o755);
  rmSync(join(n.momPriv, 'epilogue'));
  writeFileSync(n.starter, '#!/bin/sh\nexec /opt/site/starter "$@"\n');
  const install = 'run `vmbatch install-hooks torque` (it prints what it changes)';
  assert.equal(await checkTorqueHooks(n.ctx), [
    {
      check: 'torque prologue',
      status: 'fail',
      message: `${n.momPriv}/prologue is 0:0 0755: pbs_mom runs a hook only when root owns it, mode 0500 or stricter (the $job_starter 0755)`,
      hint: install,
    },
    { check: 'torque epilogue', status: 'fail', message: `${n.momPriv}/epilogue is missing: jobs on this node do not run in guests`, hint: install },
    {
      check: 'torque vmbatch-remoteshell',
      status: 'fail',
      message: `${n.starter} is not vmbatch's: not vmbatch's: it begins "#!/bin/sh"`,
      hint: 'look at it, then run `vmbatch install-hooks torque --force` (it prints what it changes); the old file is kept as NAME.vmbatch-saved',
    },
    { check: 'torque $job_starter', status: 'ok', message: `${n.momPriv}/config: $job_starter ${n.starter}` },
  ]);
});

test('no $job_starter line: fail, jobs would run on the node itself', async () => {
  const n = installedNode();
  writeFileSync(join(n.momPriv, 'config'), '$pbsserver head\n');
  const lines = await checkTorqueHooks(n.ctx);
  assert.equal(lines.at(-1), {
    check: 'torque $job_starter',
    status: 'fail',
    message: `${n.momPriv}/config has no line "$job_starter /usr/local/sbin/vmbatch-remoteshell": pbs_mom runs job scripts on the node itself, not in guests`,
    hint: 'run `vmbatch install-hooks torque` (it prints what it changes), then restart pbs_mom',
  });
});

test.run();
