import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePrologEnv } from '../../src/slurm/prolog-env.js';
import { memoryOfJobRecord } from '../../src/slurm/job-memory.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const env = {
  SLURM_JOB_ID: '900001',
  SLURM_JOB_USER: 'vbe2e',
  SLURM_JOB_UID: '31337',
  SLURM_JOB_GID: '31338',
  SLURM_JOB_WORK_DIR: '/home/vbe2e/run',
  SLURM_JOB_CPUS_PER_NODE: '2(x3),1',
  SLURM_JOB_RESTART_COUNT: '1',
};

test("slurmd's prolog environment: the job, its ids, working directory, CPUs on this (its first) node, restarts", () => {
  assert.equal(parsePrologEnv(env, 'prolog'), {
    SLURM_JOB_ID: '900001',
    SLURM_JOB_USER: 'vbe2e',
    SLURM_JOB_UID: 31337,
    SLURM_JOB_GID: 31338,
    SLURM_JOB_WORK_DIR: '/home/vbe2e/run',
    SLURM_JOB_CPUS_PER_NODE: 2,
    SLURM_JOB_RESTART_COUNT: 1,
  });
  assert.is(parsePrologEnv({ ...env, SLURM_JOB_RESTART_COUNT: undefined }, 'prolog').SLURM_JOB_RESTART_COUNT, 0);
});

test('a missing or hostile variable is refused with every problem named (a node fault: slurmd sets them)', async () => {
  const error = await expectVmbatchError(() => parsePrologEnv({ ...env, SLURM_JOB_ID: '9;reboot', SLURM_JOB_USER: '../root', SLURM_JOB_UID: undefined }, 'prolog'), 'SLURM_ENVIRONMENT_INVALID');
  assert.is(
    error.message,
    'the Slurm prolog cannot tell which job it serves:\n' +
      '  - SLURM_JOB_ID="9;reboot" must be a Slurm job id (digits)\n' +
      `  - SLURM_JOB_USER="../root" must be a POSIX name: a letter or '_' first, then letters, digits, '.', '_' or '-'\n` +
      '  - SLURM_JOB_UID is not set',
  );
});

test('the memory Slurm allocated, per node, from the job record', () => {
  const record = 'JobId=900001 JobName=x UserId=vbe2e(31337) NumNodes=1 NumCPUs=2 TRES=cpu=2,mem=1500M,node=1,billing=2 MinMemoryNode=1500M';
  assert.is(memoryOfJobRecord('900001', record), 1500);
  assert.is(memoryOfJobRecord('900001', 'JobId=900001 NumNodes=2 TRES=cpu=4,mem=4G,node=2'), 2048);
  assert.is(memoryOfJobRecord('900001', 'JobId=900001 NumNodes=1 TRES=cpu=1,node=1'), undefined);
});

test.run();
