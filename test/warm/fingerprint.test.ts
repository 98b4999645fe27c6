// The identities a saved state depends on (device, inode, size, mtime) and which file makes it stale: changed, replaced, gone, or newly there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, chmodSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOf, staleReason } from '../../src/warm/fingerprint.js';

let dir: string;
let base: string;
let kernel: string;
const then = new Date('2024-05-01T12:00:00Z');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-fingerprint-'));
  base = join(dir, 'disk.qcow2');
  kernel = join(dir, 'vmlinux');
  writeFileSync(base, 'base disk bytes');
  writeFileSync(kernel, 'kernel bytes');
  utimesSync(base, then, then);
  utimesSync(kernel, then, then);
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('each file is its device, inode, size and modification time in ns; a missing one is absent', () => {
  const missing = join(dir, 'virtqemud');
  const fp = fingerprintOf([base, missing]);
  const s = statSync(base, { bigint: true });
  assert.equal(fp, { [base]: `${s.dev}:${s.ino}:15:${s.mtimeNs}`, [missing]: 'absent' });
  assert.is(s.mtimeNs, 1714564800000000000n);
  assert.equal(fingerprintOf([]), {});
});

test('nothing changed: not stale, however often asked; reading a file or changing its mode does not count', () => {
  const saved = fingerprintOf([base, kernel, join(dir, 'libvirtd')]);
  assert.is(staleReason(saved), undefined);
  assert.is(staleReason(saved), undefined);
  chmodSync(base, 0o600);
  assert.is(staleReason(saved), undefined, 'the mode is not part of the identity');
  assert.is(staleReason({}), undefined);
});

test('a touched, grown or rewritten file makes the state stale, named', () => {
  const saved = fingerprintOf([base, kernel]);
  utimesSync(kernel, new Date(then.getTime() + 1), new Date(then.getTime() + 1));
  assert.is(staleReason(saved), `${kernel} changed since the state was saved`);
  utimesSync(kernel, then, then);
  assert.is(staleReason(saved), undefined, 'the same identity again');
  appendFileSync(base, '!');
  utimesSync(base, then, then);
  assert.is(staleReason(saved), `${base} changed since the state was saved`, 'a new size, even with the old mtime');
});

test('a removed file is gone; the first file that differs is the one named', () => {
  const saved = fingerprintOf([base, kernel]);
  rmSync(kernel);
  assert.is(staleReason(saved), `${kernel} is gone`);
  rmSync(base);
  assert.is(staleReason(saved), `${base} is gone`, 'the files in the order they were saved');
});

test('a file replaced by another with the same bytes and times (a new inode) has changed', () => {
  const saved = fingerprintOf([base]);
  writeFileSync(join(dir, 'copy'), 'base disk bytes');
  utimesSync(join(dir, 'copy'), then, then);
  renameSync(join(dir, 'copy'), base);
  assert.is(statSync(base).size, 15);
  assert.is(statSync(base).mtimeMs, then.getTime());
  assert.is(staleReason(saved), `${base} changed since the state was saved`);
});

test('a file that was absent when the state was saved and is there now has changed; one still absent has not', () => {
  const daemon = join(dir, 'virtqemud');
  const saved = fingerprintOf([base, daemon]);
  assert.is(saved[daemon], 'absent');
  assert.is(staleReason(saved), undefined);
  writeFileSync(daemon, 'a newly installed daemon');
  assert.is(staleReason(saved), `${daemon} changed since the state was saved`);
});

test('a record naming odd paths is answered, not thrown: a directory, a path through a file, an empty name', () => {
  const fp = fingerprintOf([dir, join(base, 'below'), '']);
  assert.match(fp[dir]!, /^\d+:\d+:\d+:\d+$/);
  assert.is(fp[join(base, 'below')], 'absent');
  assert.is(fp[''], 'absent');
  assert.is(staleReason({ [join(base, 'below')]: 'absent', '': 'absent' }), undefined);
  assert.is(staleReason({ [base]: 'not an identity' }), `${base} changed since the state was saved`);
});

test.run();
