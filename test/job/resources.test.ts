import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseResourceList } from '../../src/job/resources.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

test('the resource list of the contract: other arrives inside the comma-joined list', () => {
  const r = parseResourceList('other=vbuserimage=http://example/img.qcow2,mem=512mb,walltime=00:05:00,nodes=1,neednodes=1');
  assert.equal(r.resources, { other: 'vbuserimage=http://example/img.qcow2', mem: '512mb', walltime: '00:05:00', nodes: '1', neednodes: '1' });
  assert.equal(r.request, { vbuserimage: 'http://example/img.qcow2' });
});

test("several vb settings are joined by ':' and URLs keep their colons and commas", () => {
  const r = parseResourceList('other=vbdomain=testguest:vbuserimage=https://h:8443/a,b.qcow2,mem=1gb');
  assert.equal(r.request, { vbdomain: 'testguest', vbuserimage: 'https://h:8443/a,b.qcow2' });
  assert.is(r.resources.mem, '1gb');
});

test('no other, or other without vb settings, asks nothing of vmbatch', () => {
  assert.equal(parseResourceList('walltime=00:01:00,nodes=1').request, {});
  assert.equal(parseResourceList('other=scratch=big,nodes=1').request, {});
  assert.equal(parseResourceList('').request, {});
});

test('unknown or repeated vb settings and bad names are refused with every problem', async () => {
  const e = await expectVmbatchError(() => parseResourceList('other=vbdomain=a/b:vbcolour=red:vbdomain=c,nodes=1'), 'RESOURCE_INVALID');
  assert.is(
    e.message,
    [
      "the job's vmbatch resource request is invalid:",
      '  - vbdomain is given twice',
      '  - unknown setting(s) vbcolour (known: vbdomain, vbuserimage, vbuserimagehash)',
    ].join('\n'),
  );
  const bad = await expectVmbatchError(() => parseResourceList('other=vbdomain=../x'), 'RESOURCE_INVALID');
  assert.is(bad.message, "the job's vmbatch resource request is invalid:\n  - vbdomain: must be a template name of letters, digits, '.', '_' or '-'");
});

test.run();
