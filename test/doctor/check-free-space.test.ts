// The space lines: thresholds injected so that the same filesystem is ok, a warn and a fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkFreeSpace, defaultSpaceThresholds } from '../../src/doctor/check-free-space.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const gib = 1024 ** 3;
const hint = (key: string) => `free space there (\`vmbatch images prune --max-size SIZE\` for the cache, \`vmbatch reconcile\` for jobs that are gone) or give ${key} a larger filesystem`;

test.after.each(removeDoctorScratches);

test('below the warn threshold a warn, below the fail threshold a fail, for the state directory and the cache (not made yet: their parent filesystem)', async () => {
  const s = doctorScratch();
  // the state directory is not made: its parent's filesystem is the one it will be on
  const { bavail, bsize } = statfsSync(dirname(s.stateDir));
  const free = `${((bavail * bsize) / gib).toFixed(1)} GiB`;
  const cache = `${s.stateDir}/cache`;
  s.ctx.space = { warnBytes: 0, failBytes: 0 };
  assert.equal(await checkFreeSpace(s.ctx), [
    { check: 'space state', status: 'ok', message: `${free} free for ${s.stateDir} (stateDir)` },
    { check: 'space cache', status: 'ok', message: `${free} free for ${cache} (images.cacheDir)` },
  ]);
  s.ctx.space = { warnBytes: 2 ** 60, failBytes: 0 };
  assert.equal(await checkFreeSpace(s.ctx), [
    { check: 'space state', status: 'warn', message: `only ${free} free for ${s.stateDir} (stateDir), less than 1073741824.0 GiB`, hint: hint('stateDir') },
    { check: 'space cache', status: 'warn', message: `only ${free} free for ${cache} (images.cacheDir), less than 1073741824.0 GiB`, hint: hint('images.cacheDir') },
  ]);
  s.ctx.space = { warnBytes: 2 ** 60, failBytes: 2 ** 59 };
  assert.equal(await checkFreeSpace(s.ctx), [
    { check: 'space state', status: 'fail', message: `only ${free} free for ${s.stateDir} (stateDir), less than 536870912.0 GiB: jobs fail with DISK_FULL`, hint: hint('stateDir') },
    { check: 'space cache', status: 'fail', message: `only ${free} free for ${cache} (images.cacheDir), less than 536870912.0 GiB: jobs fail with DISK_FULL`, hint: hint('images.cacheDir') },
  ]);
});

test('the thresholds of a real run: warn below 5 GiB, fail below 1 GiB', () => {
  assert.equal(defaultSpaceThresholds, { warnBytes: 5 * gib, failBytes: gib });
});

test.run();
