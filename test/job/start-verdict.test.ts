import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failedStartLine, failedStartVerdict } from '../../src/job/start-verdict.js';
import { VmbatchError } from '../../src/errors/vmbatch-error.js';

const transient = new VmbatchError('LIBVIRT_UNREACHABLE', { uri: 'qemu:///system', stderr: 'no socket' });
const permanent = new VmbatchError('USER_UNKNOWN', { user: 'nobody2' });

test('permanent errors fail the job; transient ones requeue it only while attempts remain', () => {
  assert.is(failedStartVerdict(permanent, 1, 3).action, 'fail');
  assert.is(failedStartVerdict(transient, 1, 3).action, 'requeue');
  assert.is(failedStartVerdict(transient, 2, 3).action, 'requeue');
  assert.is(failedStartVerdict(new Error('bug'), 1, 3).action, 'fail');
  const last = failedStartVerdict(transient, 3, 3);
  assert.is(last.action, 'fail');
  assert.is((last.error as VmbatchError).code, 'RETRIES_EXHAUSTED');
  // with no retries configured the transient error itself is the reason
  assert.is((failedStartVerdict(transient, 1, 1).error as VmbatchError).code, 'LIBVIRT_UNREACHABLE');
});

test('a full disk, whichever step hit it, is transient', () => {
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  assert.is(failedStartVerdict(full, 1, 2).action, 'requeue');
});

test('the line that tells the submitter what becomes of the job', () => {
  assert.is(failedStartLine('900001', { action: 'requeue', attempt: 1, maxAttempts: 3 }), 'vmbatch: job 900001 is requeued (attempt 1 of 3).');
  assert.is(failedStartLine('7.vm', { action: 'fail', attempt: 3, maxAttempts: 3 }), 'vmbatch: job 7.vm does not run: it ends at once with exit status 255.');
});

test.run();
