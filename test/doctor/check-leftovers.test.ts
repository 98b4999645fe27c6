// The leftovers line: `vmbatch reconcile`'s plan, nothing removed. A job directory of an earlier
// boot (its mtime before the boot, no owner record) is what a crash leaves; libvirt is its test
// driver, whose one domain is no vmbatch job's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { checkLeftovers } from '../../src/doctor/check-leftovers.js';
import { doctorScratch, removeDoctorScratches, unansweringLibvirtUri } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

test('a node with nothing of gone jobs: ok', async () => {
  const s = doctorScratch();
  assert.equal(await checkLeftovers(s.ctx), { check: 'leftovers', status: 'ok', message: 'nothing of jobs that are gone' });
});

test('a job directory of an earlier boot: a warn listing what reconcile would remove; nothing is removed', async () => {
  const s = doctorScratch();
  const dir = join(s.stateDir, 'jobs', '4711.vm');
  mkdirSync(dir, { recursive: true });
  utimesSync(dir, new Date(1_000_000), new Date(1_000_000));
  assert.equal(await checkLeftovers(s.ctx), {
    check: 'leftovers',
    status: 'warn',
    message: `1 item of jobs that are gone, which \`vmbatch reconcile\` would remove:\n  - job directory ${dir} (from an earlier boot)`,
    hint: 'run `vmbatch reconcile`',
  });
  assert.ok(existsSync(dir), 'the doctor only reads');
  assert.is(existsSync(join(s.stateDir, 'reconcile.lock')), false, "reconcile's lock is not made");
});

test('libvirt not answering: a warn, not checked (the libvirt line fails for it)', async () => {
  const uri = unansweringLibvirtUri;
  const s = doctorScratch({ libvirtUri: uri });
  assert.equal(await checkLeftovers(s.ctx), {
    check: 'leftovers',
    status: 'warn',
    message: `not checked: libvirt at ${uri} does not answer (the libvirt line)`,
    hint: 'start libvirtd, then run `vmbatch doctor` again',
  });
});

test.run();
