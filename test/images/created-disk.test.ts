import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureOnceDisk, isCreateOnceSeeder, releaseOnceDisk } from '../../src/images/created-disk.js';
import type { CacheContext } from '../../src/images/cache-context.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { createCowOverlay, createEmptyDisk } from '../../src/images/disk-formats.js';
import { readEntryMeta } from '../../src/images/cache-entry.js';
import { entryUsers } from '../../src/images/cache-users.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { cacheScratch, type CacheScratch } from '../helpers/image-cache.js';
import type { QemuImgJson } from '../helpers/qemu-img-json.js';

let scratch: CacheScratch;
test.before(() => {
  scratch = cacheScratch();
});
test.after(() => rmSync(scratch.root, { recursive: true, force: true }));

// a job of a user the admin designated in images.createOnceSeeders
const seeder = (job: string, overrides: Partial<CacheContext> = {}) => scratch.ctx(job, { createOnceSeeder: true, ...overrides });
const disk = (job: string) => ({ name: 'cvmfs-cache', sizeMiB: 8, format: 'qcow2' as const, overlay: join(scratch.root, `${job}.qcow2`), cow: 'qcow2' as const });
const qemuIo = (file: string, format: string, command: string) => execa('qemu-io', ['-f', format, '-c', command, file], { reject: false });

async function useOnce(job: string) {
  const once = await ensureOnceDisk(seeder(job), disk(job));
  await createCowOverlay({ cow: 'qcow2', base: once.paths.data, baseFormat: 'qcow2', virtualSize: once.meta.virtualSize, file: disk(job).overlay });
  return once;
}

test("create='once': the first job alone seeds the disk; its writes are committed when it ends alone, later jobs start from them", async () => {
  const seed = await useOnce('1');
  assert.is(seed.seed, true);
  assert.is(existsSync(seed.paths.seeding), true);
  const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', seed.paths.data])).stdout) as QemuImgJson;
  assert.equal([info.format, info['virtual-size']], ['qcow2', 8 * 1048576]);
  assert.is((await qemuIo(disk('1').overlay, 'qcow2', 'write -P 0xab 0 64k')).exitCode, 0);
  assert.is(await releaseOnceDisk(seed.paths, 'testhost--1', { overlay: disk('1').overlay, cow: 'qcow2' }), 'committed');
  assert.is(readEntryMeta(seed.paths)?.sealed, true);
  assert.is((await qemuIo(seed.paths.data, 'qcow2', 'read -P 0xab 0 64k')).exitCode, 0, 'the seed is in the disk');
  const later = await useOnce('2');
  assert.is(later.seed, false, 'a sealed disk has no more seeds');
  assert.is((await qemuIo(disk('2').overlay, 'qcow2', 'read -P 0xab 0 64k')).exitCode, 0, 'a later job sees the seed through its overlay');
  assert.is(await releaseOnceDisk(later.paths, 'testhost--2', undefined), 'released');
  assert.equal(entryUsers(later.paths), []);
});

test("create='once' with jobs running beside the seed: the seed's writes are dropped, the disk stays as the others saw it", async () => {
  const name = { ...disk('3'), name: 'shared-scratch' };
  const seed = await ensureOnceDisk(seeder('3'), name);
  await createCowOverlay({ cow: 'qcow2', base: seed.paths.data, baseFormat: 'qcow2', virtualSize: seed.meta.virtualSize, file: name.overlay });
  const other = await ensureOnceDisk(seeder('4'), { ...name, overlay: join(scratch.root, '4.qcow2') });
  assert.equal([seed.seed, other.seed], [true, false]);
  await qemuIo(name.overlay, 'qcow2', 'write -P 0xcd 0 64k');
  assert.is(await releaseOnceDisk(seed.paths, 'testhost--3', { overlay: name.overlay, cow: 'qcow2' }), 'dropped');
  assert.is((await qemuIo(seed.paths.data, 'qcow2', 'read -P 0 0 64k')).exitCode, 0, 'the disk is unchanged');
  assert.is(existsSync(seed.paths.seeding), false);
  assert.is(await releaseOnceDisk(seed.paths, 'testhost--3', { overlay: name.overlay, cow: 'qcow2' }), 'released', 'idempotent');
});

test('a seed whose guest never got ready is dropped, and a later job seeds instead', async () => {
  const name = { ...disk('7'), name: 'failed-seed' };
  const seed = await ensureOnceDisk(seeder('7'), name);
  await createCowOverlay({ cow: 'qcow2', base: seed.paths.data, baseFormat: 'qcow2', virtualSize: seed.meta.virtualSize, file: name.overlay });
  assert.is(await releaseOnceDisk(seed.paths, 'testhost--7', { overlay: name.overlay, cow: 'qcow2' }, { keepSeed: false }), 'dropped');
  assert.is(readEntryMeta(seed.paths)?.sealed, false);
  assert.is((await ensureOnceDisk(seeder('8'), { ...name, overlay: join(scratch.root, '8.qcow2') })).seed, true);
});

test('a job waits for a running seed up to createOnceWaitSeconds, and goes on when it ends', async () => {
  const name = { ...disk('5'), name: 'waited' };
  const seed = await ensureOnceDisk(seeder('5'), name);
  const started = Date.now();
  const waiting = ensureOnceDisk(seeder('6', { createOnceWaitMs: 20_000 }), { ...name, overlay: join(scratch.root, '6.qcow2') });
  setTimeout(() => void releaseOnceDisk(seed.paths, 'testhost--5', { overlay: name.overlay, cow: 'qcow2' }), 200);
  const after = await waiting;
  assert.ok(Date.now() - started < 10_000, 'it went on when the seed ended, not at the timeout');
  assert.is(after.seed, true, 'the seed was dropped (its overlay was never made), so the waiting job seeds');
});

test("only a designated user's job seeds: another user's writes are never committed, the disk stays empty for a designated job", async () => {
  const name = { ...disk('20'), name: 'designated' };
  const hostile = recordingLogger();
  const other = await ensureOnceDisk(scratch.ctx('20', { log: hostile.log }), name);
  assert.is(other.seed, false, 'a job of a user not in images.createOnceSeeders is never the seed');
  assert.is(existsSync(other.paths.seeding), false);
  assert.equal(hostile.lines, [
    {
      level: 'info',
      msg: 'not a seed: the job is not one of images.createOnceSeeders; its writes stay in its overlay',
      fields: { disk: other.paths.dir, name: 'designated', job: 'testhost--20' },
    },
  ]);
  await createCowOverlay({ cow: 'qcow2', base: other.paths.data, baseFormat: 'qcow2', virtualSize: other.meta.virtualSize, file: name.overlay });
  assert.is((await qemuIo(name.overlay, 'qcow2', 'write -P 0x66 0 64k')).exitCode, 0);
  // teardown passes the job's noted use: no seed, so nothing of the overlay reaches the disk
  assert.is(await releaseOnceDisk(other.paths, 'testhost--20', undefined), 'released');
  assert.is((await qemuIo(other.paths.data, 'qcow2', 'read -P 0 0 64k')).exitCode, 0, "the other user's writes are not in the disk");
  assert.is(readEntryMeta(other.paths)?.sealed, false);

  const admin = recordingLogger();
  const designated = await ensureOnceDisk(seeder('21', { log: admin.log }), { ...name, overlay: join(scratch.root, '21.qcow2') });
  assert.is(designated.seed, true);
  assert.equal(admin.lines, [{ level: 'info', msg: 'seeding', fields: { disk: designated.paths.dir, name: 'designated', job: 'testhost--21' } }]);
  await createCowOverlay({ cow: 'qcow2', base: designated.paths.data, baseFormat: 'qcow2', virtualSize: designated.meta.virtualSize, file: join(scratch.root, '21.qcow2') });
  assert.is((await qemuIo(join(scratch.root, '21.qcow2'), 'qcow2', 'write -P 0x77 0 64k')).exitCode, 0);
  assert.is(await releaseOnceDisk(designated.paths, 'testhost--21', { overlay: join(scratch.root, '21.qcow2'), cow: 'qcow2' }), 'committed');
  assert.is((await qemuIo(designated.paths.data, 'qcow2', 'read -P 0x77 0 64k')).exitCode, 0, "the designated job's writes are committed");
});

test('images.createOnceSeeders names users by name or uid; none by default', () => {
  const who = { user: 'alice', uid: 31337 };
  assert.is(isCreateOnceSeeder([], who), false);
  assert.is(isCreateOnceSeeder(['alice'], who), true);
  assert.is(isCreateOnceSeeder([31337], who), true);
  assert.is(isCreateOnceSeeder(['31337', 'bob', 1000], who), false, 'a uid written as a string is a user name');
});

test('created disks in every format; formats whose tool is missing say which tool and package', async () => {
  for (const [format, qemuName] of [
    ['raw', 'raw'],
    ['qcow2', 'qcow2'],
    ['qcow', 'qcow'],
    ['vhd', 'vpc'],
    ['vpc', 'vpc'],
  ] as const) {
    const file = join(scratch.root, `empty.${format}`);
    await createEmptyDisk({ format, file, sizeMiB: 16, mode: 0o600 });
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', file])).stdout) as QemuImgJson;
    assert.is(info.format, qemuName, format);
    assert.ok(info['virtual-size'] >= 16 * 1048576, format);
  }
  const missing = await expectVmbatchError(() => createEmptyDisk({ format: 'vhd-util-vhd', file: join(scratch.root, 'x.vhd'), sizeMiB: 16, mode: 0o600 }), 'TOOL_MISSING');
  assert.is(missing.message, "the tool 'vhd-util' is not installed on this node");
  assert.is(missing.hint, 'install the Debian package blktap-utils (not in Debian 12; Xen ships vhd-util) (scripts/install-deps.sh installs everything vmbatch needs)');
});

test('copy-on-write overlays per hypervisor: qcow2 (QEMU/KVM) and QCOW (Xen 3) over a raw base; VHD (Xen 4) needs vhd-util', async () => {
  const base = join(scratch.root, 'base.raw');
  await execa('qemu-img', ['create', '-q', '-f', 'raw', base, '32M']);
  for (const cow of ['qcow2', 'qcow'] as const) {
    const file = join(scratch.root, `over.${cow}`);
    await createCowOverlay({ cow, base, baseFormat: 'raw', virtualSize: 32 * 1048576, file });
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', file])).stdout) as QemuImgJson;
    assert.equal([info.format, info['backing-filename'], info['virtual-size']], [cow, base, 32 * 1048576]);
  }
  const vhd = await expectVmbatchError(() => createCowOverlay({ cow: 'vhd', base, baseFormat: 'raw', virtualSize: 32 * 1048576, file: join(scratch.root, 'over.vhd') }), 'TOOL_MISSING');
  assert.match(vhd.message, "'vhd-util'");
});

test.run();
