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
      '  - unknown setting(s) vbcolour (known: vbdomain, vbuserimage, vbuserimagehash, vbrte, vbstage, vbchanges, vbchangeshash, vbsavechanges, vbroot, vbbase)',
    ].join('\n'),
  );
  const bad = await expectVmbatchError(() => parseResourceList('other=vbdomain=../x'), 'RESOURCE_INVALID');
  assert.is(bad.message, "the job's vmbatch resource request is invalid:\n  - vbdomain: must be a template name of letters, digits, '.', '_' or '-'");
});

test("vbrte: RTE names joined by '+' inside other, beside other settings, through Torque's comma-joined list", () => {
  const r = parseResourceList('walltime=01:00:00,other=vbrte=APPS/BIO/WEKA-3.4.10+ENV/Java/JRE-1.5.0:vbbase=Debian.,nodes=1');
  assert.equal(r.request, { vbrte: ['APPS/BIO/WEKA-3.4.10', 'ENV/Java/JRE-1.5.0'], vbbase: 'Debian.' });
  // a '+' inside a name is %2B; a name given twice counts once
  assert.equal(parseResourceList('other=vbrte=APPS/MATH/GCC-C%2B%2B-12+ENV/X+ENV/X').request, { vbrte: ['APPS/MATH/GCC-C++-12', 'ENV/X'] });
});

test('bad RTE names are refused with their position', async () => {
  const e = await expectVmbatchError(() => parseResourceList('other=vbrte=APPS/../etc++A B'), 'RESOURCE_INVALID');
  assert.is(
    e.message,
    [
      "the job's vmbatch resource request is invalid:",
      "  - vbrte.0: must not have empty, '.' or '..' path segments",
      '  - vbrte.1: has an empty name (two + in a row, or one at an end)',
      "  - vbrte.2: must be names of letters, digits, '.', '_', '-', '/' or %2B-escaped '+'",
    ].join('\n'),
  );
});

test('a second other= in the resource list is refused, naming both, rather than replacing the first', async () => {
  const e = await expectVmbatchError(() => parseResourceList('other=vbdomain=testguest,nodes=1,other=vbuserimage=http://h/a,b.img'), 'RESOURCE_INVALID');
  assert.is(
    e.message,
    "the job's vmbatch resource request is invalid:\n  - other= is given 2 times ('vbdomain=testguest', 'vbuserimage=http://h/a,b.img'); give every vb setting in one other=, joined with ':'",
  );
  // other text in one other= is still not vmbatch's business
  assert.equal(parseResourceList('other=scratch=big:vbdomain=testguest,nodes=1').request, { vbdomain: 'testguest' });
});

test.run();
