import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadSsh2 } from '../../src/remoteshell/load-ssh2.js';

test('ssh2 is loaded on demand with what vmbatch uses of it: Client, Server and utils.parseKey', async () => {
  const ssh2 = await loadSsh2();
  assert.type(ssh2.Client, 'function');
  assert.type(ssh2.Server, 'function');
  assert.ok(ssh2.utils.parseKey('not a key') instanceof Error);
});

test.run();
