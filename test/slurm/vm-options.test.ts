import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseVmOptions } from '../../src/slurm/vm-options.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

test('each --vm-* option is the request setting Torque spells vb*', () => {
  assert.equal(
    parseVmOptions([
      '--vm-domain=debian12',
      '--vm-rte=ENV/PYTHON-3+APPS/BIO/WEKA',
      '--vm-base=Debian.',
      '--vm-stage=yes',
      '--vm-image=https://example.org/a.qcow2',
      '--vm-image-hash=sha256:' + 'a'.repeat(64),
    ]),
    { vbdomain: 'debian12', vbrte: ['ENV/PYTHON-3', 'APPS/BIO/WEKA'], vbbase: 'Debian.', vbstage: 'yes', vbuserimage: 'https://example.org/a.qcow2', vbuserimagehash: 'sha256:' + 'a'.repeat(64) },
  );
  assert.equal(parseVmOptions([]), {});
});

test("every problem at once, in the options' own names (the plugin checks syntax only: the values are the submitter's)", async () => {
  const error = await expectVmbatchError(() => parseVmOptions(['--vm-domain=../etc', '--vm-stage=maybe', '--vm-rte=A++B', '--vm-colour=red', 'stray', '--vm-base=']), 'VM_OPTION_INVALID');
  assert.is(
    error.message,
    "the job's --vm-* options are invalid:\n" +
      '  - "--vm-colour=red" is not a vmbatch option (known: --vm-domain, --vm-image, --vm-image-hash, --vm-rte, --vm-base, --vm-stage, --vm-changes, --vm-save-changes, --vm-changes-hash, --vm-root)\n' +
      '  - "stray" is not a vmbatch option (known: --vm-domain, --vm-image, --vm-image-hash, --vm-rte, --vm-base, --vm-stage, --vm-changes, --vm-save-changes, --vm-changes-hash, --vm-root)\n' +
      "  - --vm-domain=../etc: must be a template name of letters, digits, '.', '_' or '-'\n" +
      '  - --vm-rte=A++B: has an empty name (two + in a row, or one at an end)\n' +
      '  - --vm-stage=maybe: must be yes (copy the working directory in and out) or no\n' +
      '  - --vm-base=: String must contain at least 1 character(s)',
  );
  assert.is(error.hint, 'fix each option listed and submit again; `sbatch --help` lists the --vm-* options and docs/slurm.md describes them');
});

test('an option given twice is refused (the plugin hands over one value each)', async () => {
  const error = await expectVmbatchError(() => parseVmOptions(['--vm-domain=a', '--vm-domain=b']), 'VM_OPTION_INVALID');
  assert.match(error.message, '--vm-domain is given twice');
});

test.run();
