// The permissions lines: a state directory open to a hostile local user (mode 0777, or owned by
// another uid) fails with the commands that mend it; a missing one is a warn; root's 0755 is ok.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkPermissions } from '../../src/doctor/check-permissions.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const missing = (dir: string, key: string) => ({
  check: key === 'stateDir' ? 'permissions state' : 'permissions cache',
  status: 'warn',
  message: `${dir} (${key}) does not exist yet`,
  hint: 'the first job makes it (root-owned, mode 0755); nothing to do unless the path is wrong',
});

test.after.each(removeDoctorScratches);

test('missing directories: a warn each (the first job makes them)', async () => {
  const s = doctorScratch();
  assert.equal(await checkPermissions(s.ctx), [missing(s.stateDir, 'stateDir'), missing(join(s.stateDir, 'cache'), 'images.cacheDir')]);
});

test('root-owned and mode 0755: ok', async () => {
  const s = doctorScratch();
  const cache = join(s.stateDir, 'cache');
  mkdirSync(cache, { recursive: true, mode: 0o755 });
  chmodSync(s.stateDir, 0o755);
  assert.equal(await checkPermissions(s.ctx), [
    { check: 'permissions state', status: 'ok', message: `${s.stateDir}: owned by root, mode 0755` },
    { check: 'permissions cache', status: 'ok', message: `${cache}: owned by root, mode 0755` },
  ]);
});

test('mode 0777, and owned by another uid: fail, with the chmod and chown to run', async () => {
  const s = doctorScratch();
  const cache = join(s.stateDir, 'cache');
  mkdirSync(cache, { recursive: true });
  chmodSync(s.stateDir, 0o777);
  chmodSync(cache, 0o775);
  chownSync(cache, 65534, 0);
  assert.equal(await checkPermissions(s.ctx), [
    {
      check: 'permissions state',
      status: 'fail',
      message: `${s.stateDir} (stateDir): mode 0777: its group and others can write there. A local user who can write there can attack root's jobs`,
      hint: `chmod go-w ${s.stateDir}, then look for what was put there meanwhile`,
    },
    {
      check: 'permissions cache',
      status: 'fail',
      message: `${cache} (images.cacheDir): owned by uid 65534, not root; mode 0775: its group can write there. A local user who can write there can attack root's jobs`,
      hint: `chown root:root ${cache} && chmod go-w ${cache}, then look for what was put there meanwhile`,
    },
  ]);
});

test.run();
