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

test('with runtime environments: their settings are exported, runtime stage 1 before the job and 2 after it', () => {
  const rte = { exports: ['JAVA_HOME=/opt/vmbatch/rte/ENV/JRE/pkg'], runtimes: ['/opt/vmbatch/rte/ENV/JRE/control/runtime', '/opt/vmbatch/rte/APPS/WEKA/control/runtime'] };
  assert.is(
    guestJobCommand({ workdir: '/home/u', env: {}, script: '/jobs/2.vm.SC', rte }),
    [
      "cd /home/u 2>/dev/null || cd",
      'export JAVA_HOME=/opt/vmbatch/rte/ENV/JRE/pkg',
      "set -- 1; . /opt/vmbatch/rte/ENV/JRE/control/runtime || { printf 'vmbatch: %s 1 failed\\n' /opt/vmbatch/rte/ENV/JRE/control/runtime >&2; exit 1; }",
      "set -- 1; . /opt/vmbatch/rte/APPS/WEKA/control/runtime || { printf 'vmbatch: %s 1 failed\\n' /opt/vmbatch/rte/APPS/WEKA/control/runtime >&2; exit 1; }",
      '/jobs/2.vm.SC',
      'vmbatch_rc=$?',
      'set -- 2; . /opt/vmbatch/rte/ENV/JRE/control/runtime || true',
      'set -- 2; . /opt/vmbatch/rte/APPS/WEKA/control/runtime || true',
      'sync',
      'exit $vmbatch_rc',
    ].join('\n'),
  );
});

test('exit statuses: codes pass through, signals become 128+n as in a shell', () => {
  assert.is(channelExitStatus(3, undefined), 3);
  assert.is(channelExitStatus(null, 'KILL'), 137);
  assert.is(channelExitStatus(null, 'SIGTERM'), 143);
  assert.is(channelExitStatus(undefined, undefined), 255);
});

test.run();
