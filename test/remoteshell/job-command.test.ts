import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { channelExitStatus } from '../../src/remoteshell/ssh-session.js';
import { guestJobCommand, jobEnvironment } from '../../src/remoteshell/job-command.js';

test('only the PBS_* environment of the job goes to the guest', () => {
  assert.equal(jobEnvironment({ PBS_JOBID: '2.vm', PBS_O_WORKDIR: '/home/u', HOME: '/home/u', PATH: '/bin', pbs_x: 'no' }), { PBS_JOBID: '2.vm', PBS_O_WORKDIR: '/home/u' });
});

test('the batch command enters the workdir, exports, runs the script, syncs and keeps the status', () => {
  assert.is(
    guestJobCommand({ workdir: "/home/o'brien", env: { PBS_JOBID: '2.vm', PBS_JOBNAME: 'a b' }, script: '/var/spool/vmbatch/jobs/2.vm.SC' }),
    ["cd '/home/o'\\''brien' 2>/dev/null || cd", 'export PBS_JOBID=2.vm', "export PBS_JOBNAME='a b'", '/var/spool/vmbatch/jobs/2.vm.SC', 'vmbatch_rc=$?', 'sync', 'exit $vmbatch_rc'].join('\n'),
  );
  assert.match(guestJobCommand({ workdir: undefined, env: {} }), /\nexec "\$\{SHELL:-\/bin\/sh\}" -l$/);
});

test('exit statuses: codes pass through, signals become 128+n as in a shell', () => {
  assert.is(channelExitStatus(3, undefined), 3);
  assert.is(channelExitStatus(null, 'KILL'), 137);
  assert.is(channelExitStatus(null, 'SIGTERM'), 143);
  assert.is(channelExitStatus(undefined, undefined), 255);
});

test.run();
