// The printed forms: one line per result with its hint indented below, multi-line messages
// aligned, a closing count; and the JSON array.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fail, ok, warn } from '../../src/doctor/check-result.js';
import { formatResults, formatResultsJson } from '../../src/doctor/format-results.js';

const results = [
  ok('config', '/etc/vmbatch/vmbatch.json is valid'),
  warn('kvm', 'TCG only (no /dev/kvm): guests run several times slower', 'load kvm'),
  fail('leftovers', '2 items:\n  - a\n  - b', 'run `vmbatch reconcile`'),
];

test('text: STATUS CHECK: message, the hint under each warn and fail, a count at the end', () => {
  assert.is(
    formatResults(results),
    [
      'ok   config: /etc/vmbatch/vmbatch.json is valid',
      'warn kvm: TCG only (no /dev/kvm): guests run several times slower',
      '     hint: load kvm',
      'fail leftovers: 2 items:',
      '       - a',
      '       - b',
      '     hint: run `vmbatch reconcile`',
      '1 ok, 1 warn, 1 fail',
      '',
    ].join('\n'),
  );
});

test('JSON: an array of {check, status, message, hint?}', () => {
  assert.equal(JSON.parse(formatResultsJson(results)), [
    { check: 'config', status: 'ok', message: '/etc/vmbatch/vmbatch.json is valid' },
    { check: 'kvm', status: 'warn', message: 'TCG only (no /dev/kvm): guests run several times slower', hint: 'load kvm' },
    { check: 'leftovers', status: 'fail', message: '2 items:\n  - a\n  - b', hint: 'run `vmbatch reconcile`' },
  ]);
  assert.ok(formatResultsJson(results).endsWith(']\n'));
});

test.run();
