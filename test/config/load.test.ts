import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

test('defaults fill what the file leaves out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-config-'));
  try {
    writeFileSync(join(dir, 'c.json'), '{"stateDir": "/srv/vmbatch"}');
    const c = loadConfig(join(dir, 'c.json'));
    assert.is(c.stateDir, '/srv/vmbatch');
    assert.is(c.libvirtUri, 'qemu:///system');
    assert.is(c.prologueBudgetSeconds, 240);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every invalid setting is reported at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-config-'));
  try {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ stateDir: 'relative', prologueBudgetSeconds: 600, maxAttempts: 0, colour: 'red' }));
    const e = await expectVmbatchError(() => loadConfig(file), 'CONFIG_INVALID');
    assert.is(
      e.message,
      [
        `the vmbatch configuration ${file} is invalid:`,
        '  - stateDir: Invalid input: must start with "/"',
        '  - prologueBudgetSeconds: Number must be less than or equal to 290',
        '  - maxAttempts: Number must be greater than or equal to 1',
        '  - unknown setting(s) colour',
      ].join('\n'),
    );
    const missing = await expectVmbatchError(() => loadConfig(join(dir, 'none.json')), 'CONFIG_UNREADABLE');
    assert.match(missing.message, `cannot read the vmbatch configuration ${join(dir, 'none.json')}: ENOENT`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("guest identity: a pool of uids no user has and the guests' group by default; a bad pool is reported with its path", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-config-'));
  try {
    const file = join(dir, 'c.json');
    writeFileSync(file, '{}');
    assert.equal(loadConfig(file).guestIdentity, { uids: { first: 1900000000, last: 1900000999 }, group: 'libvirt-qemu' });
    writeFileSync(file, JSON.stringify({ guestIdentity: { uids: { first: 3000000000, last: 3000000009 }, group: 'kvm' } }));
    assert.equal(loadConfig(file).guestIdentity, { uids: { first: 3000000000, last: 3000000009 }, group: 'kvm' });
    const bad = async (guestIdentity: unknown) => {
      writeFileSync(file, JSON.stringify({ guestIdentity }));
      return (await expectVmbatchError(() => loadConfig(file), 'CONFIG_INVALID')).message.split('\n').slice(1);
    };
    assert.equal(await bad({ uids: { first: 1000, last: 4294967295 } }), [
      '  - guestIdentity.uids.first: Number must be greater than or equal to 65536',
      '  - guestIdentity.uids.last: Number must be less than or equal to 4294967294',
      '  - guestIdentity.uids: a pool holds at most 65536 uids',
    ]);
    assert.equal(await bad({ uids: { first: 2000000001, last: 2000000000 } }), ['  - guestIdentity.uids: first must not be greater than last']);
    assert.equal(await bad({ uids: { first: 2000000000, last: 2000065536 } }), ['  - guestIdentity.uids: a pool holds at most 65536 uids']);
    assert.equal(await bad({ uids: { first: 2000000000.5, last: 2000000001 }, group: 'a b', user: 'x' }), [
      '  - guestIdentity.uids.first: Expected integer, received float',
      '  - guestIdentity.group: must be a group name',
      '  - guestIdentity: unknown setting(s) user',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an older configuration with sshForwardPorts still loads: the key is obsolete and ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-config-'));
  try {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ sshForwardPorts: { first: 42000, last: 42999 } }));
    assert.is(loadConfig(file).stateDir, '/var/lib/vmbatch');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
