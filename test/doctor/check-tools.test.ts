// The tools' lines: each with its version when found in PATH; missing ones name their Debian package.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { checkTools, checkVirtiofsd } from '../../src/doctor/check-tools.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

test('a PATH without the tools: a fail per tool jobs need, a warn for ssh-keygen, each naming its package', async () => {
  const s = doctorScratch({}, { path: '/nonexistent' });
  assert.equal(await checkTools(s.ctx), [
    { check: 'qemu-img', status: 'fail', message: "not found in PATH (needed for every job's copy-on-write disks)", hint: 'install the Debian package qemu-utils' },
    { check: 'genisoimage', status: 'fail', message: 'not found in PATH (needed for the context CD-ROM of CDROM templates)', hint: 'install the Debian package genisoimage' },
    { check: 'flock', status: 'fail', message: "not found in PATH (needed for every prologue's locks)", hint: 'install the Debian package util-linux' },
    { check: 'getent', status: 'fail', message: "not found in PATH (needed for every prologue's lookup of the job's user)", hint: 'install the Debian package libc-bin' },
    { check: 'ssh-keygen', status: 'warn', message: "not found in PATH (needed for the site's ROOTSSH key)", hint: 'install the Debian package openssh-client' },
  ]);
});

test('a PATH with only qemu-img: its version; the others missing', async () => {
  const s = doctorScratch();
  const bin = join(s.root, 'bin');
  mkdirSync(bin);
  symlinkSync('/usr/bin/qemu-img', join(bin, 'qemu-img'));
  s.ctx.path = bin;
  const version = /version (\S+)/.exec((await execa('qemu-img', ['--version'])).stdout)?.[1];
  const results = await checkTools(s.ctx);
  assert.equal(results[0], { check: 'qemu-img', status: 'ok', message: `version ${version}` });
  assert.equal(
    results.slice(1).map((r) => `${r.status} ${r.check}`),
    ['fail genisoimage', 'fail flock', 'fail getent', 'warn ssh-keygen'],
  );
});

test("ssh-keygen has no version of its own: OpenSSH's, from ssh", async () => {
  const s = doctorScratch();
  const version = /OpenSSH_(\S+?)[ ,]/.exec((await execa('ssh', ['-V'])).stderr)?.[1];
  const results = await checkTools(s.ctx);
  assert.equal(
    results.find((r) => r.check === 'ssh-keygen'),
    { check: 'ssh-keygen', status: 'ok', message: `version ${version}` },
  );
});

test('virtiofsd missing at shares.virtiofsd: fail, naming the package; not needed when shares are off', async () => {
  const s = doctorScratch({ shares: { virtiofsd: '/nonexistent/virtiofsd' } });
  assert.equal(await checkVirtiofsd(s.ctx), {
    check: 'virtiofsd',
    status: 'fail',
    message: "not found at /nonexistent/virtiofsd (needed for the guests' shared directories)",
    hint: 'install the Debian package qemu-system-common',
  });
  s.ctx.config.shares.virtiofs = false;
  assert.equal(await checkVirtiofsd(s.ctx), { check: 'virtiofsd', status: 'ok', message: 'not needed: shares.virtiofs is false (working directories are staged)' });
});

test('virtiofsd present: its version', async () => {
  const s = doctorScratch();
  const version = /version (\S+)/.exec((await execa('/usr/lib/qemu/virtiofsd', ['--version'])).stdout)?.[1];
  assert.equal(await checkVirtiofsd(s.ctx), { check: 'virtiofsd', status: 'ok', message: `version ${version}` });
});

test.run();
