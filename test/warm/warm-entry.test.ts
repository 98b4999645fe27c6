// openWarmEntry on a saved state laid out as a build leaves it: the entry when it is root's alone, current and whole; otherwise why the job boots cold, exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, copyFileSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildSaveImageHeader } from '../../src/warm/save-image.js';
import { openWarmEntry, warmMetaSchema } from '../../src/warm/warm-entry.js';
import { warmEntryPaths, warmRoot } from '../../src/warm/warm-paths.js';
import { fakeKey, fakeSaved, warmScratch, writeFakeEntry, type FakeWarmEntry, type WarmScratch } from '../helpers/warm-state.js';

let scratch: WarmScratch;
let entry: FakeWarmEntry;
const key = fakeKey('c');
test.before.each(() => {
  scratch = warmScratch();
  entry = writeFakeEntry(scratch, key);
});
test.after.each(() => scratch.cleanup());

const open = (k = key) => openWarmEntry(scratch.stateDir, entry.paths, k);
const skipped = (k = key) => {
  const result = open(k);
  assert.ok('skipped' in result, 'the entry was opened');
  return result.skipped;
};

test("a whole, current entry that is root's alone opens: its record, paths and save image header", () => {
  assert.equal(open(), {
    entry: { meta: entry.meta, paths: entry.paths, header: { wasRunning: true, xml: fakeSaved.xml, cookie: fakeSaved.cookie, streamOffset: entry.header.length } },
  });
  assert.ok(warmMetaSchema.safeParse(entry.meta).success);
  // the guests' group may read the frozen disks: root's, not writable by it
  chownSync(entry.frozen, 0, 64001);
  chownSync(entry.paths.dir, 0, 64001);
  assert.ok('entry' in open());
});

test('no entry, no record or no warm directory at all: none yet, and how to make one', () => {
  const none = 'no saved state for this guest yet (vmbatch warm build TEMPLATE makes it)';
  rmSync(entry.paths.meta);
  assert.equal(open(), { skipped: none });
  rmSync(entry.paths.dir, { recursive: true });
  assert.equal(open(), { skipped: none });
  rmSync(warmRoot(scratch.stateDir), { recursive: true });
  assert.equal(open(), { skipped: none });
  // the job's size says which build it needs
  assert.equal(openWarmEntry(scratch.stateDir, entry.paths, entry.key, { vcpus: 2, memoryMiB: 512 }), {
    skipped: 'no saved state for this guest (2 vCPU(s), 512 MiB) yet (vmbatch warm build TEMPLATE --vcpus 2 --memory 512 makes it)',
  });
});

test("a record that is a link, not root's or writable by others is refused, never read", () => {
  const sound = join(scratch.root, 'meta.json');
  copyFileSync(entry.paths.meta, sound);
  rmSync(entry.paths.meta);
  symlinkSync(sound, entry.paths.meta);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.meta} is a symbolic link`);
  rmSync(entry.paths.meta);
  copyFileSync(sound, entry.paths.meta);
  chownSync(entry.paths.meta, 31339, 31339);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.meta} is owned by uid 31339, not by root`);
  chownSync(entry.paths.meta, 0, 0);
  chmodSync(entry.paths.meta, 0o666);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.meta} is writable by its group or others (mode 0666)`);
  rmSync(entry.paths.meta);
  mkdirSync(entry.paths.meta);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.meta} is not a regular file`);
});

test('a FIFO planted as the record or the save image is refused without hanging', async () => {
  rmSync(entry.paths.meta);
  await execa('mkfifo', ['-m', '0644', entry.paths.meta]);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.meta} is not a regular file`);
  scratch.cleanup();
  scratch = warmScratch();
  entry = writeFakeEntry(scratch, key);
  rmSync(entry.paths.memoryState);
  await execa('mkfifo', ['-m', '0600', entry.paths.memoryState]);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.memoryState} is not a regular file`);
});

test("a save image that others own or may write is refused: whoever could write it runs code in every job's guest", () => {
  chownSync(entry.paths.memoryState, 31339, 31339);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.memoryState} is owned by uid 31339, not by root`);
  chownSync(entry.paths.memoryState, 0, 0);
  chmodSync(entry.paths.memoryState, 0o666);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.memoryState} is writable by its group or others (mode 0666)`);
  chmodSync(entry.paths.memoryState, 0o620);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.memoryState} is writable by its group or others (mode 0620)`);
});

test('a save image that is a link, missing or not one libvirt wrote is refused by name', () => {
  renameSync(entry.paths.memoryState, join(scratch.root, 'memory.state'));
  assert.is(skipped(), `cannot open ${entry.paths.memoryState}: ENOENT`);
  symlinkSync(join(scratch.root, 'memory.state'), entry.paths.memoryState);
  assert.is(skipped(), `cannot open ${entry.paths.memoryState}: ELOOP`);
  rmSync(entry.paths.memoryState);
  writeFileSync(entry.paths.memoryState, 'not a save image at all');
  chmodSync(entry.paths.memoryState, 0o600);
  assert.is(skipped(), `the saved state ${entry.paths.memoryState} cannot be used: it is not a libvirt save image (no LibvirtQemudSave header)`);
  const compressed = buildSaveImageHeader({ ...fakeSaved, wasRunning: true });
  compressed.writeUInt32LE(2, 28);
  writeFileSync(entry.paths.memoryState, compressed);
  assert.is(skipped(), `the saved state ${entry.paths.memoryState} cannot be used: it is compressed (save_image_format in qemu.conf); warm start reads raw images`);
  // only the first MiB is read for the header: an XML beyond it does not fit
  writeFileSync(entry.paths.memoryState, buildSaveImageHeader({ xml: 'x'.repeat(1 << 20), cookie: '', wasRunning: true }));
  assert.is(skipped(), `the saved state ${entry.paths.memoryState} cannot be used: its header is cut short`);
});

test('an entry directory, warm directory or state directory others may write, or a linked entry directory, is refused', () => {
  chmodSync(entry.paths.dir, 0o777);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.dir} is writable by its group or others (mode 0777)`);
  chmodSync(entry.paths.dir, 0o750);
  chownSync(entry.paths.dir, 31339, 0);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.dir} is owned by uid 31339, not by root`);
  chownSync(entry.paths.dir, 0, 0);
  chmodSync(warmRoot(scratch.stateDir), 0o775);
  assert.is(skipped(), `the saved state is not root's alone: ${warmRoot(scratch.stateDir)} is writable by its group or others (mode 0775)`);
  chmodSync(warmRoot(scratch.stateDir), 0o755);
  chmodSync(scratch.stateDir, 0o1777);
  assert.is(skipped(), `the saved state is not root's alone: ${scratch.stateDir} is writable by its group or others (mode 1777)`);
  chmodSync(scratch.stateDir, 0o755);
  assert.ok('entry' in open());
  // the entry directory swapped for a link to a directory the same, sound files and all
  const elsewhere = join(scratch.root, 'elsewhere');
  renameSync(entry.paths.dir, elsewhere);
  symlinkSync(elsewhere, entry.paths.dir);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.paths.dir} is a symbolic link`);
});

test("another guest's state under this key's directory is not used", () => {
  const other = fakeKey('a');
  assert.is(skipped(other), `${entry.paths.dir} holds the state of another guest (key cccccccccccccccc…)`);
  // a record whose key merely starts the same: the whole key must match
  assert.is(skipped(`${'c'.repeat(63)}d`), `${entry.paths.dir} holds the state of another guest (key cccccccccccccccc…)`);
});

test('a stale state names the first file that changed or went', () => {
  utimesSync(scratch.kernel, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
  assert.is(skipped(), `the saved state is stale: ${scratch.kernel} changed since the state was saved`);
  rmSync(scratch.base);
  assert.is(skipped(), `the saved state is stale: ${scratch.base} is gone`);
  scratch.cleanup();
  scratch = warmScratch();
  entry = writeFakeEntry(scratch, key);
  // a daemon that was not installed when the state was saved and is now
  writeFileSync(join(scratch.root, 'guest', 'virtqemud'), 'daemon');
  assert.is(skipped(), `the saved state is stale: ${join(scratch.root, 'guest', 'virtqemud')} changed since the state was saved`);
});

test("a frozen disk that is missing, a link, not root's or writable by others is refused", () => {
  const aside = join(scratch.root, 'disk-vda.qcow2');
  renameSync(entry.frozen, aside);
  assert.is(skipped(), `the saved state's disk ${entry.frozen} is missing`);
  symlinkSync(aside, entry.frozen);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.frozen} is a symbolic link`);
  rmSync(entry.frozen);
  renameSync(aside, entry.frozen);
  chownSync(entry.frozen, 31339, 31339);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.frozen} is owned by uid 31339, not by root`);
  chownSync(entry.frozen, 0, 0);
  chmodSync(entry.frozen, 0o666);
  assert.is(skipped(), `the saved state is not root's alone: ${entry.frozen} is writable by its group or others (mode 0666)`);
  chmodSync(entry.frozen, 0o640);
  mkdirSync(join(scratch.root, 'a-dir'));
  writeFakeRecord({ ...entry.meta, disks: [{ target: 'vda', file: join(scratch.root, 'a-dir'), virtualSize: 1 }] });
  assert.is(skipped(), `the saved state is not root's alone: ${join(scratch.root, 'a-dir')} is not a regular file`);
});

test("a record that is not a saved state's (garbage, empty, another version, a bad key, fields missing) is refused by name", () => {
  const refused = `${entry.paths.meta} is not a saved state's record`;
  for (const text of ['{ not json', '', 'null', '[]', '"text"', '{}']) {
    writeFileSync(entry.paths.meta, text);
    assert.is(skipped(), refused, JSON.stringify(text));
  }
  for (const meta of [
    { ...entry.meta, version: 2 },
    { ...entry.meta, key: key.toUpperCase() },
    { ...entry.meta, key: key.slice(0, 16) },
    { ...entry.meta, fingerprint: { [scratch.base]: 42 } },
    { ...entry.meta, disks: [{ target: 'vda' }] },
    { ...entry.meta, stateBytes: 1.5 },
    { ...entry.meta, createdAt: undefined },
  ]) {
    writeFakeRecord(meta);
    assert.is(skipped(), refused, JSON.stringify(meta));
  }
  // a valid record is read whatever else it holds
  writeFakeRecord({ ...entry.meta, comment: 'made by hand' });
  assert.ok('entry' in open());
});

test('the entry paths a job opens are below the state directory, named by the first 16 digits of the key', () => {
  assert.equal(warmEntryPaths('/var/lib/vmbatch', key), {
    dir: '/var/lib/vmbatch/warm/cccccccccccccccc',
    meta: '/var/lib/vmbatch/warm/cccccccccccccccc/meta.json',
    memoryState: '/var/lib/vmbatch/warm/cccccccccccccccc/memory.state',
    lock: '/var/lib/vmbatch/warm/.cccccccccccccccc.lock',
  });
});

function writeFakeRecord(meta: unknown): void {
  writeFileSync(entry.paths.meta, JSON.stringify(meta));
}

test.run();
