import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildIso } from '../../src/context/build-iso.js';
import { planContextIso } from '../../src/context/iso-layout.js';
import { generateKeyPair } from '../../src/context/keys.js';
import type { GuestParams } from '../../src/context/guest-params.js';

const params: GuestParams = {
  VB_NONCE: '0123456789abcdef0123456789abcdef',
  VB_JOBID: '9.vm',
  VB_JOBNAME: "it's a job",
  VB_USER: 'vbuser',
  VB_GROUP: 'vbgroup',
  VB_UID: 2001,
  VB_GID: 2002,
  VB_HOME: '/home/vbuser',
  VB_SHELL: '/bin/bash',
  VB_JOBPATH: '/var/spool/vmbatch/jobs',
  VB_JOBFILE: '9.vm.SC',
  VB_READY_CONSOLE: '/dev/ttyS0',
};

const isoinfo = async (iso: string, ...args: string[]) => (await execa('isoinfo', ['-i', iso, ...args])).stdout;

test('the context ISO holds the layout, readable back with isoinfo, with Rock Ridge modes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-iso-'));
  try {
    const userKey = generateKeyPair('u');
    const hostKey = generateKeyPair('h');
    const layout = planContextIso({ params, jobScript: '#!/bin/sh\necho hi\n', userKey, hostKey });
    const iso = join(dir, 'context.iso');
    await buildIso(layout, iso, join(dir, 'staging'));
    assert.equal(readdirSync(dir), ['context.iso'], 'staging and temp files are gone');
    assert.is(statSync(iso).mode & 0o777, 0o600);
    const listing = await isoinfo(iso, '-R', '-f');
    assert.equal(listing.split('\n').sort(), [
      '/epilog.sh',
      '/job',
      '/job/9.vm.SC',
      '/prolog.sh',
      '/ssh',
      '/ssh/authorized_keys',
      '/ssh/ssh_host_ed25519_key',
      '/ssh/ssh_host_ed25519_key.pub',
      '/vmbatch.env',
      '/vmbatch.json',
    ]);
    assert.match(await isoinfo(iso, '-d'), 'Volume id: VMBATCH');
    const env = await isoinfo(iso, '-R', '-x', '/vmbatch.env');
    assert.match(env, "VB_JOBNAME='it'\\''s a job'\n");
    assert.match(env, 'VB_UID=2001\n');
    assert.is(await isoinfo(iso, '-R', '-x', '/ssh/authorized_keys'), userKey.publicKey);
    const long = await isoinfo(iso, '-R', '-l');
    assert.match(long, /-rw------- +1 +0 +0 .* ssh_host_ed25519_key;?1? *\n/);
    // sourcing the generated parameters gives back the exact values
    const { stdout } = await execa('/bin/sh', ['-c', `${env}\nprintf '%s|%s' "$VB_JOBNAME" "$VB_HOME"`]);
    assert.is(stdout, "it's a job|/home/vbuser");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing genisoimage leaves neither the ISO nor the staging directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-iso-'));
  try {
    const layout = { volumeId: 'X'.repeat(40), files: [{ path: 'a', mode: 0o644, content: 'a' }], copies: [], unpack: [] };
    await buildIso(layout, join(dir, 'context.iso'), join(dir, 'staging')).then(
      () => assert.unreachable('genisoimage should refuse a 40-character volume id'),
      (error: Error) => assert.match(error.message, /^genisoimage .* failed with exit code \d+/),
    );
    assert.not.ok(existsSync(join(dir, 'context.iso')));
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
