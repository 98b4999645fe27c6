import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VmbatchError, formatError } from '../../src/errors/vmbatch-error.js';
import { errorCatalogue } from '../../src/errors/catalogue.js';

const permanent = new VmbatchError('USER_UNKNOWN', { user: 'nobody2' });

test('an error renders as code, message and hint', () => {
  assert.is(
    formatError(permanent),
    "vmbatch: USER_UNKNOWN: the job's user 'nobody2' is not known on this node (getent passwd found nothing)\n" +
      '  hint: make the user known on the compute node (NSS/LDAP) before jobs of this user run here',
  );
  assert.match(formatError(new Error('boom')), /^vmbatch: INTERNAL: Error: boom/);
});

test('every catalogue entry has a kind, a message and a hint', () => {
  for (const [code, entry] of Object.entries(errorCatalogue)) {
    assert.ok(['permanent', 'transient'].includes(entry.kind), code);
    assert.type(entry.message, 'function', code);
    assert.type(entry.hint, 'function', code);
  }
});

test.run();
