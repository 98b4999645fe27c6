// Reservations (addresses, guest uids, ...) are root's: another local user can neither list them
// nor read which job holds what (a watcher could race the next prologue for what it takes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { releaseAll, reserveOne } from '../../src/state/reservations.js';
import { currentBootId } from '../../src/state/boot-id.js';
import { ensureHostUser } from '../helpers/host-user.js';

test('a reservation directory is 0700 and its files 0600: another user gets EACCES listing or reading it', async () => {
  const other = await ensureHostUser('vbother', 31339, 31340);
  const stateDir = mkdtempSync('/tmp/vmbatch-reservations-');
  chmodSync(stateDir, 0o755);
  // a reservation is held while its job has a directory (a prologue makes it before reserving)
  for (const job of ['7701.vm', '7702.vm', '7703.vm']) mkdirSync(join(stateDir, 'jobs', job), { recursive: true });
  try {
    assert.is(await reserveOne(stateDir, 'addresses', '7701.vm', ['10.0.2.20', '10.0.2.21']), '10.0.2.20');
    const dir = join(stateDir, 'addresses');
    assert.is(statSync(dir).mode & 0o777, 0o700);
    assert.is(statSync(join(dir, '10.0.2.20')).mode & 0o777, 0o600);
    assert.is(readFileSync(join(dir, '10.0.2.20'), 'utf8'), `7701.vm\n${currentBootId()}\n`);
    const asOther = (argv: string[]) => execa(argv[0]!, argv.slice(1), { uid: other.uid, gid: other.gid, reject: false });
    const list = await asOther(['ls', dir]);
    assert.is(list.exitCode, 2);
    assert.is(list.stderr, `ls: cannot open directory '${dir}': Permission denied`);
    const read = await asOther(['cat', join(dir, '10.0.2.20')]);
    assert.is(read.stderr, `cat: ${join(dir, '10.0.2.20')}: Permission denied`);
    // a second job takes the next address; the first one's release leaves the second's alone
    assert.is(await reserveOne(stateDir, 'addresses', '7702.vm', ['10.0.2.20', '10.0.2.21']), '10.0.2.21');
    releaseAll(stateDir, 'addresses', '7701.vm');
    assert.is(await reserveOne(stateDir, 'addresses', '7703.vm', ['10.0.2.20', '10.0.2.21']), '10.0.2.20');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
