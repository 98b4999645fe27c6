import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJobState, writeJobState, type JobState } from '../../src/state/job-state.js';

const older: JobState = {
  version: 1,
  jobId: '7.vm',
  user: 'alice',
  uid: 1001,
  domainName: 'vmbatch-7.vm',
  libvirtUri: 'qemu:///system',
  phase: 'ready',
  sshSocket: '/var/lib/vmbatch/jobs/7.vm/ssh.sock',
  hostPublicKey: 'ssh-ed25519 AAAA vmbatch-7.vm-host',
  hostScriptPath: '/var/spool/torque/mom_priv/jobs/7.vm.SC',
  guestScriptPath: '/var/spool/vmbatch/jobs/7.vm.SC',
  createdAt: '2026-01-01T00:00:00.000Z',
};

test("the guest's vCPUs are kept for remoteshell; a state of an older version without them still reads", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-state-'));
  try {
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify(older));
    const read = readJobState(file);
    assert.is(read?.vcpus, undefined);
    assert.is(read?.phase, 'ready');
    writeJobState(file, { ...older, vcpus: 2 });
    assert.is(readJobState(file)?.vcpus, 2);
    writeFileSync(file, JSON.stringify({ ...older, vcpus: 0 }));
    assert.throws(() => readJobState(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
