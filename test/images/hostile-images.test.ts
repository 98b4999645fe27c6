import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureCachedImage } from '../../src/images/ensure-cached.js';
import { prepareDisks } from '../../src/images/prepare-disks.js';
import { ensureOnceDisk, releaseOnceDisk } from '../../src/images/created-disk.js';
import { readEntryMeta } from '../../src/images/cache-entry.js';
import { ensureRtePackage } from '../../src/catalogue/rte-packages.js';
import type { ImageSource } from '../../src/images/image-source.js';
import type { DiskPlan } from '../../src/images/disk-plan.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { cacheScratch, runImagesCli, templateSource, type CacheScratch } from '../helpers/image-cache.js';

let server: ImageServer;
let scratch: CacheScratch;
let dir: string;
// the victims: another job's overlay (root's, 0600), and a FIFO: qemu's file driver refuses a
// FIFO with its own error (old code: IMAGE_FORMAT_MISMATCH from a failed qemu-img info), and an
// open() for reading by anything else blocks: so the error code alone shows that no tool opened it
let victim: string;
let fifo: string;
let victimDigest: string;

test.before(async () => {
  server = await startImageServer();
  scratch = cacheScratch();
  dir = join(scratch.root, 'work');
  mkdirSync(join(scratch.stateDir, 'jobs', '7301.vm'), { recursive: true });
  mkdirSync(dir);
  victim = join(scratch.stateDir, 'jobs', '7301.vm', 'disk-vda.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', victim, '16M']);
  await execa('chmod', ['600', victim]);
  victimDigest = sha256(readFileSync(victim));
  fifo = join(dir, 'fifo');
  await execa('mkfifo', [fifo]);
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const submitterSource = (url: string, uid = 7300): ImageSource => ({
  url,
  hash: undefined,
  origin: 'submitter',
  maxBytes: 1 << 30,
  maxVirtualBytes: 1 << 30,
  allowedPrefixes: [server.url('/')],
  ownerUid: uid,
});

// What a hostile submitter builds: a qcow2 with a data file of its own, then amended to name the victim.
async function dataFileImage(name: string, target: string): Promise<{ url: string; bytes: Buffer }> {
  const file = join(dir, name);
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${file}.data`, file, '16M']);
  await execa('qemu-img', ['amend', '-o', `data_file=${target}`, file]);
  const bytes = readFileSync(file);
  server.route(`/${name}`, { kind: 'data', data: bytes });
  return { url: server.url(`/${name}`), bytes };
}

// The refusal must come from the header, before any tool: a hang or another code is the hole reopened.
async function refusedInTime(fn: () => Promise<unknown>, code: string) {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the check blocked: something opened what the header names')), 15_000)));
  try {
    return await Promise.race([expectVmbatchError(fn, code), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const outside = (url: string, what: string) => `the image ${url} names ${what} and is refused: the guest and root's tools would open that host file with their rights`;

test('a data file naming another job’s overlay: refused for a template image, a submitter image (shared and download), admin fetch, a catalogue image package; the victim is untouched', async () => {
  const { url } = await dataFileImage('evil.qcow2', victim);
  const template = await refusedInTime(() => ensureCachedImage(scratch.ctx('7300'), templateSource(url), 'qcow2'), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(template.message, outside(url, `an external data file (${victim})`));
  assert.is(template.kind, 'permanent');
  const shared = await refusedInTime(() => ensureCachedImage(scratch.ctx('7300'), submitterSource(url), 'qcow2'), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(shared.message, template.message);

  const file = join(scratch.stateDir, 'jobs', '7300.vm', 'disk-vda.img');
  mkdirSync(join(scratch.stateDir, 'jobs', '7300.vm'), { recursive: true });
  const plan: DiskPlan = {
    kind: 'disk',
    index: 0,
    target: 'vda',
    base: { kind: 'download', source: submitterSource(url) },
    baseFormat: 'qcow2',
    access: 'direct',
    cow: undefined,
    file,
    format: 'qcow2',
  };
  const download = await refusedInTime(() => prepareDisks([plan], scratch.ctx('7300')), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(download.message, template.message);
  assert.not.ok(existsSync(file), 'the refused per-job copy is gone');

  const cli = await runImagesCli(scratch, ['fetch', url, '--format', 'qcow2']);
  assert.is(cli.exitCode, 1);
  assert.is(cli.stderr.split('\n')[0], `vmbatch: IMAGE_REFERENCES_OUTSIDE: ${template.message}`);

  const rte = await refusedInTime(() => ensureRtePackage(scratch.ctx('7300'), { name: 'EVIL-1.0', instance: 'urn:evil', url, kind: 'image' }), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(rte.message, template.message, 'declared raw, yet a qcow2 header naming a file is refused: a tool that probes would follow it');

  assert.is(sha256(readFileSync(victim)), victimDigest, "the other job's overlay is unchanged");
  assert.is(readFileSync(join(dir, 'evil.qcow2.data')).length > 0, true);
  const fifoImage = await dataFileImage('fifo.qcow2', fifo);
  const viaFifo = await refusedInTime(() => ensureCachedImage(scratch.ctx('7300'), templateSource(fifoImage.url), 'qcow2'), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(viaFifo.message, outside(fifoImage.url, `an external data file (${fifo})`));
  assert.ok(statSync(fifo).isFIFO());
});

test('the incompatible feature bit alone (no name in the header) is a data file too; unknown incompatible bits are refused', async () => {
  const file = join(dir, 'bit.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file, '16M']);
  const bytes = readFileSync(file);
  const bit = Buffer.from(bytes);
  bit.writeBigUInt64BE(4n, 72);
  server.route('/bit.qcow2', { kind: 'data', data: bit });
  const named = await refusedInTime(() => ensureCachedImage(scratch.ctx('7300'), templateSource(server.url('/bit.qcow2')), 'qcow2'), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(named.message, outside(server.url('/bit.qcow2'), 'an external data file ((a file named when the image is opened))'));
  const unknown = Buffer.from(bytes);
  unknown.writeBigUInt64BE(1n << 40n, 72);
  server.route('/unknown.qcow2', { kind: 'data', data: unknown });
  const error = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), templateSource(server.url('/unknown.qcow2')), 'qcow2'), 'IMAGE_UNCHECKABLE');
  assert.is(error.message, `the image ${server.url('/unknown.qcow2')} cannot be checked safely and is refused: its qcow2 header sets incompatible feature bits vmbatch does not know (0x10000000000)`);
});

test('a backing file named with json: is a backing file; so is a qcow (v1) one', async () => {
  const json = 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/shadow"}}';
  const file = join(dir, 'json.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-F', 'raw', '-b', json, file, '16M']);
  server.route('/json.qcow2', { kind: 'data', data: readFileSync(file) });
  const error = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), submitterSource(server.url('/json.qcow2')), 'qcow2'), 'IMAGE_HAS_BACKING_FILE');
  assert.is(error.message, `the image ${server.url('/json.qcow2')} has a backing file (${json.replace(/"/g, '\\"')}) and cannot be used as a base image`);
  const v1 = join(dir, 'v1.qcow');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow', '-u', '-F', 'raw', '-b', victim, v1, '16M']);
  server.route('/v1.qcow', { kind: 'data', data: readFileSync(v1) });
  const old = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), templateSource(server.url('/v1.qcow')), 'qcow'), 'IMAGE_HAS_BACKING_FILE');
  assert.is(old.message, `the image ${server.url('/v1.qcow')} has a backing file (${victim}) and cannot be used as a base image`);
});

test('a VHD differencing disk (hand-made header) names its parent: refused', async () => {
  const file = join(dir, 'diff.vhd');
  await execa('qemu-img', ['create', '-q', '-f', 'vpc', file, '16M']);
  const bytes = Buffer.from(readFileSync(file));
  // the footer is at the start and the end; type 4 = differencing; the dynamic header names the parent
  for (const at of [0, bytes.length - 512]) bytes.writeUInt32BE(4, at + 60);
  const dynamic = Number(bytes.readBigUInt64BE(16));
  const parent = Buffer.from('/srv/other.vhd', 'utf16le').swap16();
  parent.copy(bytes, dynamic + 64);
  server.route('/diff.vhd', { kind: 'data', data: bytes });
  const error = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), templateSource(server.url('/diff.vhd')), 'vpc'), 'IMAGE_REFERENCES_OUTSIDE');
  assert.is(error.message, outside(server.url('/diff.vhd'), 'a parent disk (/srv/other.vhd): it is a VHD differencing disk'));
});

test('formats vmbatch cannot read safely are refused; a vmdk declared qcow2 is named from its magic, never probed by qemu-img', async () => {
  const file = join(dir, 'x.vmdk');
  await execa('qemu-img', ['create', '-q', '-f', 'vmdk', file, '16M']);
  server.route('/x.vmdk', { kind: 'data', data: readFileSync(file) });
  const url = server.url('/x.vmdk');
  const vmdk = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), templateSource(url), 'vmdk'), 'IMAGE_UNCHECKABLE');
  assert.is(
    vmdk.message,
    `the image ${url} cannot be checked safely and is refused: vmdk images can name other files (extents, backing or data files) that vmbatch cannot check without opening them; base images must be qcow2, qcow, vpc (VHD) or raw`,
  );
  const mismatch = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), templateSource(url), 'qcow2'), 'IMAGE_FORMAT_MISMATCH');
  assert.is(mismatch.message, `the image ${url} is vmdk, but the template declares <driver type='qcow2'/>`);
});

test('a 1 PiB virtual size in a small qcow2: refused by the policy (submitter) and by images.maxVirtualSizeMiB (template)', async () => {
  const file = join(dir, 'huge.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1P']);
  server.route('/huge.qcow2', { kind: 'data', data: readFileSync(file) });
  const url = server.url('/huge.qcow2');
  const user = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300'), submitterSource(url), 'qcow2'), 'IMAGE_VIRTUAL_SIZE_TOO_LARGE');
  assert.is(user.message, `the image ${url} has a virtual size of ${2 ** 50} bytes, more than the 1024 MiB the site allows`);
  const site = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7300', { maxVirtualBytes: 262144 * 1048576 }), templateSource(url), 'qcow2'), 'IMAGE_VIRTUAL_SIZE_TOO_LARGE');
  assert.is(site.message, `the image ${url} has a virtual size of ${2 ** 50} bytes, more than the 262144 MiB the site allows`);
  assert.is(site.kind, 'permanent');
});

test('a cached entry whose header changed after its check is refused when the next job reuses it', async () => {
  const file = join(dir, 'clean.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file, '16M']);
  server.route('/clean.qcow2', { kind: 'data', data: readFileSync(file) });
  const url = server.url('/clean.qcow2');
  const first = await ensureCachedImage(scratch.ctx('7302'), templateSource(url), 'qcow2');
  const fd = openSync(first.paths.data, 'r+');
  const bit = Buffer.alloc(8);
  bit.writeBigUInt64BE(4n);
  writeSync(fd, bit, 0, 8, 72);
  closeSync(fd);
  await expectVmbatchError(() => ensureCachedImage(scratch.ctx('7303'), templateSource(url), 'qcow2'), 'IMAGE_REFERENCES_OUTSIDE');
});

test('a seed whose overlay header was rewritten to name a data file is not committed: the disk and the victim stay as they were', async () => {
  const overlay = join(dir, 'seed-overlay.qcow2');
  const once = await ensureOnceDisk(scratch.ctx('7304', { createOnceSeeder: true }), { name: 'hostile-seed', sizeMiB: 16, format: 'qcow2', overlay, cow: 'qcow2' });
  assert.ok(once.seed);
  await execa('qemu-img', ['create', '-q', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', once.paths.data, '-o', `data_file=${overlay}.data`, overlay, '16M']);
  await execa('qemu-img', ['amend', '-o', `data_file=${victim}`, overlay]);
  const before = sha256(readFileSync(once.paths.data));
  assert.is(await releaseOnceDisk(once.paths, 'testhost--7304', { overlay, cow: 'qcow2' }), 'refused');
  assert.is(sha256(readFileSync(once.paths.data)), before);
  assert.is(sha256(readFileSync(victim)), victimDigest);
  assert.not.ok(readEntryMeta(once.paths)?.sealed, 'not sealed: a later job may seed');
  // an overlay as vmbatch makes it is committed
  const good = join(dir, 'seed-good.qcow2');
  const again = await ensureOnceDisk(scratch.ctx('7305', { createOnceSeeder: true }), { name: 'hostile-seed', sizeMiB: 16, format: 'qcow2', overlay: good, cow: 'qcow2' });
  await execa('qemu-img', ['create', '-q', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', again.paths.data, good, '16M']);
  assert.is(await releaseOnceDisk(again.paths, 'testhost--7305', { overlay: good, cow: 'qcow2' }), 'committed');
  assert.ok(readEntryMeta(again.paths)?.sealed);
  // the sealed disk's header is read again by every job that uses it
  const fd = openSync(again.paths.data, 'r+');
  const bit = Buffer.alloc(8);
  bit.writeBigUInt64BE(4n);
  writeSync(fd, bit, 0, 8, 72);
  closeSync(fd);
  const reuse = await expectVmbatchError(
    () => ensureOnceDisk(scratch.ctx('7306'), { name: 'hostile-seed', sizeMiB: 16, format: 'qcow2', overlay: join(dir, 'o7306.qcow2'), cow: 'qcow2' }),
    'IMAGE_REFERENCES_OUTSIDE',
  );
  assert.is(reuse.message, outside('create:hostile-seed', 'an external data file ((a file named when the image is opened))'));
});

test.run();
