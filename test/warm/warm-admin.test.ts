// `vmbatch warm list` and `drop` below a scratch state directory: each state with whether a job would start from it, template arguments as files, and drops by template or key that leave the other states alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dropWarmStates, listWarmStates, templateFileOf } from '../../src/warm/warm-admin.js';
import { warmEntryPaths, warmRoot } from '../../src/warm/warm-paths.js';
import { fakeKey, warmScratch, writeFakeEntry, type WarmScratch } from '../helpers/warm-state.js';

let scratch: WarmScratch;
test.before.each(() => {
  scratch = warmScratch();
});
test.after.each(() => scratch.cleanup());

const unreadable = 'unreadable record: vmbatch warm drop removes it';

test('no warm directory, or an empty one: no states', () => {
  assert.equal(listWarmStates(scratch.stateDir), []);
  rmSync(warmRoot(scratch.stateDir), { recursive: true });
  assert.equal(listWarmStates(scratch.stateDir), []);
  assert.equal(listWarmStates(join(scratch.root, 'no-such-state')), []);
});

test('each state in name order: current, stale with why, or an unreadable record; builds, drops and locks in progress are not states', () => {
  const current = writeFakeEntry(scratch, fakeKey('a'));
  const extra = join(scratch.root, 'guest', 'initrd.img');
  writeFileSync(extra, 'initrd');
  const stale = writeFakeEntry(scratch, fakeKey('b'));
  writeFileSync(stale.paths.meta, JSON.stringify({ ...stale.meta, fingerprint: { ...stale.meta.fingerprint, [extra]: 'absent' } }));
  const garbage = writeFakeEntry(scratch, fakeKey('d'));
  writeFileSync(garbage.paths.meta, '{ "version": 1, "key": ');
  const open = writeFakeEntry(scratch, fakeKey('e'));
  chmodSync(open.paths.memoryState, 0o666);
  const noRecord = writeFakeEntry(scratch, fakeKey('f'));
  rmSync(noRecord.paths.meta);
  for (const name of ['.build-123-abcd', '.drop-0123456789abcdef-99', 'README', '0123456789ABCDEF', '0123456789abcde', '0123456789abcdef0']) mkdirSync(join(warmRoot(scratch.stateDir), name));
  writeFileSync(join(warmRoot(scratch.stateDir), '.aaaaaaaaaaaaaaaa.lock'), '');
  assert.equal(listWarmStates(scratch.stateDir), [
    { dir: current.paths.dir, meta: current.meta, status: 'current' },
    { dir: stale.paths.dir, meta: { ...stale.meta, fingerprint: { ...stale.meta.fingerprint, [extra]: 'absent' } }, status: `the saved state is stale: ${extra} changed since the state was saved` },
    { dir: garbage.paths.dir, meta: undefined, status: unreadable },
    { dir: open.paths.dir, meta: open.meta, status: `the saved state is not root's alone: ${open.paths.memoryState} is writable by its group or others (mode 0666)` },
    { dir: noRecord.paths.dir, meta: undefined, status: unreadable },
  ]);
});

test("a record that is not root's alone is not read: it lists as unreadable", () => {
  const entry = writeFakeEntry(scratch, fakeKey('a'));
  chmodSync(entry.paths.meta, 0o646);
  assert.equal(listWarmStates(scratch.stateDir), [{ dir: entry.paths.dir, meta: undefined, status: unreadable }]);
  // a record of the right shape but another schema version
  chmodSync(entry.paths.meta, 0o644);
  writeFileSync(entry.paths.meta, JSON.stringify({ ...entry.meta, version: 2 }));
  assert.equal(listWarmStates(scratch.stateDir), [{ dir: entry.paths.dir, meta: undefined, status: unreadable }]);
});

test("a directory holding another key's record lists what a job would find in it, not the other key's entry", () => {
  const real = writeFakeEntry(scratch, fakeKey('a'));
  // a copy of the sound entry under another key's name: no job of either key starts from it
  const copy = writeFakeEntry(scratch, fakeKey('b'), { key: fakeKey('a') });
  const listed = listWarmStates(scratch.stateDir);
  assert.equal(listed[0], { dir: real.paths.dir, meta: real.meta, status: 'current' });
  assert.equal(listed[1], { dir: copy.paths.dir, meta: copy.meta, status: `${copy.paths.dir} holds the state of another guest (key aaaaaaaaaaaaaaaa…)` });
  // it is so whatever the state of the entry its record names
  rmSync(real.paths.dir, { recursive: true });
  assert.equal(listWarmStates(scratch.stateDir)[0]?.status, `${copy.paths.dir} holds the state of another guest (key aaaaaaaaaaaaaaaa…)`);
});

test('a template argument is a name in the domains directory, or a path: relative ones resolved, absolute ones kept', () => {
  assert.is(templateFileOf('/etc/vmbatch/domains', 'testguest'), '/etc/vmbatch/domains/testguest.xml');
  assert.is(templateFileOf('/etc/vmbatch/domains', 'testguest.xml'), '/etc/vmbatch/domains/testguest.xml');
  assert.is(templateFileOf('/etc/vmbatch/domains', './x.xml'), resolve('x.xml'));
  assert.is(templateFileOf('/etc/vmbatch/domains', 'sub/x.xml'), join(process.cwd(), 'sub', 'x.xml'));
  assert.is(templateFileOf('/etc/vmbatch/domains', '/srv/templates/x.xml'), '/srv/templates/x.xml');
  assert.is(templateFileOf('/etc/vmbatch/domains', '/srv/templates/x'), '/srv/templates/x', 'a path is taken as written, no .xml added');
  // no name escapes the domains directory without being written as a path
  assert.is(templateFileOf('/etc/vmbatch/domains', '..'), '/etc/vmbatch/domains/...xml');
  assert.is(templateFileOf('/etc/vmbatch/domains', '../../etc/passwd'), resolve('../../etc/passwd'));
});

test('drop by template file removes its states (each under its lock) and returns their directories; the others stay', async () => {
  const t1 = '/etc/vmbatch/domains/one.xml';
  const a = writeFakeEntry(scratch, fakeKey('a'), { template: t1 });
  const b = writeFakeEntry(scratch, fakeKey('b'), { template: '/etc/vmbatch/domains/two.xml' });
  const c = writeFakeEntry(scratch, fakeKey('c'), { template: t1 });
  // stale or not, a state of the template goes
  rmSync(scratch.kernel);
  const garbage = writeFakeEntry(scratch, fakeKey('d'));
  writeFileSync(garbage.paths.meta, 'garbage');
  assert.equal(await dropWarmStates(scratch.stateDir, { templateFile: t1 }), [a.paths.dir, c.paths.dir]);
  assert.not.ok(existsSync(a.paths.dir));
  assert.not.ok(existsSync(c.paths.dir));
  assert.ok(existsSync(b.paths.meta));
  assert.ok(existsSync(garbage.paths.meta), "an unreadable record is no template's");
  assert.equal(
    readdirSync(warmRoot(scratch.stateDir))
      .filter((n) => !n.endsWith('.lock'))
      .sort(),
    ['bbbbbbbbbbbbbbbb', 'dddddddddddddddd'],
  );
  assert.equal(await dropWarmStates(scratch.stateDir, { templateFile: t1 }), [], 'nothing more to drop');
  assert.equal(await dropWarmStates(scratch.stateDir, { templateFile: '/etc/vmbatch/domains/one' }), [], 'the file, exactly');
});

test('drop by key: a prefix of 16 digits or more picks one state, unreadable ones too; another key drops nothing', async () => {
  const a = writeFakeEntry(scratch, fakeKey('a'));
  const b = writeFakeEntry(scratch, `${'b'.repeat(16)}${'0'.repeat(48)}`);
  const b2 = writeFakeEntry(scratch, `${'b'.repeat(15)}c${'b'.repeat(48)}`);
  const garbage = writeFakeEntry(scratch, fakeKey('d'));
  writeFileSync(garbage.paths.meta, 'garbage');
  assert.equal(await dropWarmStates(scratch.stateDir, { key: 'bbbbbbbbbbbbbbbb0000' }), [b.paths.dir]);
  assert.ok(existsSync(b2.paths.meta), 'a key that differs within the prefix stays');
  assert.equal(await dropWarmStates(scratch.stateDir, { key: `${'b'.repeat(16)}1` }), []);
  assert.equal(await dropWarmStates(scratch.stateDir, { key: 'dddddddddddddddd' }), [garbage.paths.dir]);
  assert.equal(await dropWarmStates(scratch.stateDir, { key: fakeKey('a') }), [a.paths.dir]);
  assert.equal(
    listWarmStates(scratch.stateDir).map((l) => l.dir),
    [b2.paths.dir],
  );
  // nothing half-removed is left behind
  assert.equal(
    readdirSync(warmRoot(scratch.stateDir)).filter((n) => n.startsWith('.drop-')),
    [],
  );
});

test('a leftover of a drop interrupted between its rename and its removal is not a state, and does not stop the next drop', async () => {
  const a = writeFakeEntry(scratch, fakeKey('a'));
  // a leftover of an interrupted drop is not a state and does not stop the next one
  renameSync(a.paths.dir, join(warmRoot(scratch.stateDir), `.drop-aaaaaaaaaaaaaaaa-${process.pid}`));
  const again = writeFakeEntry(scratch, fakeKey('a'));
  assert.equal(
    listWarmStates(scratch.stateDir).map((l) => l.dir),
    [again.paths.dir],
  );
  assert.equal(await dropWarmStates(scratch.stateDir, { key: 'aaaaaaaaaaaaaaaa' }), [again.paths.dir]);
  assert.not.ok(existsSync(warmEntryPaths(scratch.stateDir, fakeKey('a')).dir));
  assert.equal(
    readdirSync(warmRoot(scratch.stateDir)).filter((n) => n.startsWith('.drop-')),
    [],
  );
});

test.run();
