import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEpilogueArgv, parsePrologueArgv } from '../../src/job/hook-argv.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const good = ['2.vm', 'vbuser', 'vbuser', 'STDIN', 'other=vbdomain=testguest,mem=512mb,walltime=00:05:00,nodes=1,neednodes=1', 'batch', '', '/var/spool/torque/mom_priv/jobs/2.vm.SC'];

test('the prologue argv of the Torque contract parses', () => {
  assert.equal(parsePrologueArgv(good), {
    jobId: '2.vm',
    user: 'vbuser',
    group: 'vbuser',
    jobName: 'STDIN',
    resources: good[4],
    queue: 'batch',
    account: '',
    scriptPath: good[7],
  });
  assert.is(parsePrologueArgv(['7[3].head-1.example.org', ...good.slice(1)]).jobId, '7[3].head-1.example.org');
});

test('a job id and user name with shell or path characters are refused, all at once', async () => {
  const e = await expectVmbatchError(() => parsePrologueArgv(['2.vm;rm -rf /', '../root', 'vb user', ...good.slice(3)]), 'HOOK_ARGV_INVALID');
  assert.is(
    e.message,
    [
      'the prologue was called with invalid arguments:',
      `  - argv[1] (job id) "2.vm;rm -rf /" must be a Torque job id: digits, an optional array index like [3], and an optional server name of letters, digits, '.' and '-' (no shell or path characters)`,
      `  - argv[2] (user) "../root" must be a POSIX name: a letter or '_' first, then letters, digits, '.', '_' or '-'`,
      `  - argv[3] (group) "vb user" must be a POSIX name: a letter or '_' first, then letters, digits, '.', '_' or '-'`,
    ].join('\n'),
  );
  assert.is(e.kind, 'permanent');
});

test('a wrong argument count and a relative script path are refused', async () => {
  const count = await expectVmbatchError(() => parsePrologueArgv(good.slice(0, 5)), 'HOOK_ARGV_INVALID');
  assert.is(count.message, 'the prologue was called with invalid arguments:\n  - expected 8 arguments (job id, user, group, job name, resource list, queue, account, job script), got 5');
  const rel = await expectVmbatchError(() => parsePrologueArgv([...good.slice(0, 7), 'jobs/2.vm.SC']), 'HOOK_ARGV_INVALID');
  assert.match(rel.message, 'argv[8] (job script) "jobs/2.vm.SC" must be an absolute path');
});

test('the epilogue argv, also after a failed prologue (empty usage, exit -2)', () => {
  const args = parseEpilogueArgv(['2.vm', 'vbuser', 'vbuser', 'STDIN', '0', 'walltime=00:05:00', '', 'batch', '', '-2', '/var/spool/torque/mom_priv/jobs/2.vm.SC']);
  assert.is(args.exitStatus, '-2');
  assert.is(args.resourcesUsed, '');
});

test.run();
