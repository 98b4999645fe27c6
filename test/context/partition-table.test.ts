// DISK contextualization reads a partition table from an image and writes where it says: a
// hostile table (entry size 0, billions of entries, partitions past the end or overlapping) is
// refused at once with every problem, before root's qemu-img dd or qemu-io touch the image.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTreeIntoPartition, type PartitionWrite } from '../../src/context/disk-context.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { makeCraftedGptImage, makeCraftedMbrImage, makePartitionedImage, type CraftedGpt } from '../helpers/partitioned-image.js';

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-parttable-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const target = (file: string, number = 1): PartitionWrite => ({ role: 'rootdisk', dev: 'vda', partition: `vda${number}`, number, file, format: 'qcow2' });

// Writes an empty tree into partition `number` of `file`: the table is read first.
async function write(file: string, number = 1): Promise<void> {
  const scratch = join(dir, 'scratch');
  rmSync(scratch, { recursive: true, force: true });
  const tree = join(dir, 'tree');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  try {
    await writeTreeIntoPartition(target(file, number), tree, '/', scratch);
  } finally {
    // nothing of the image is left in the scratch directory, refused or not
    assert.equal(readdirSync(scratch), []);
  }
}

async function refusal(name: string, gpt: CraftedGpt): Promise<string> {
  const file = join(dir, `${name}.qcow2`);
  await makeCraftedGptImage(file, gpt);
  const e = await expectVmbatchError(() => write(file), 'PARTITION_TABLE_INVALID');
  return e.message;
}

const header = 'the partition table of disk vda is invalid; nothing was written into it:\n';

test('real MBR and GPT tables made by sfdisk are read: their partitions are listed', async () => {
  for (const table of ['dos', 'gpt'] as const) {
    const file = join(dir, `${table}.qcow2`);
    await makePartitionedImage(
      file,
      [
        { sizeMiB: 8, label: 'a' },
        { sizeMiB: 4, label: 'b' },
      ],
      table,
    );
    const e = await expectVmbatchError(() => write(file, 7), 'PARTITION_NOT_FOUND');
    assert.is(e.message, 'disk vda has no partition vda7 (its partitions: vda1 (8 MiB), vda2 (4 MiB))', table);
  }
});

test('a tree written into a GPT partition lands there, and only there (read back with debugfs)', async () => {
  const file = join(dir, 'write.qcow2');
  await makePartitionedImage(
    file,
    [
      { sizeMiB: 4, label: 'a' },
      { sizeMiB: 4, label: 'b' },
    ],
    'gpt',
  );
  const tree = join(dir, 'written');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, 'etc', 'hello'), 'from the host\n');
  const scratch = join(dir, 'scratch-write');
  mkdirSync(scratch, { recursive: true });
  await writeTreeIntoPartition(target(file, 2), tree, '/', scratch);
  const raw = join(dir, 'part2.raw');
  // partition 2 starts at 1 MiB + 4 MiB
  await execa('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=1M', 'skip=5', 'count=9', `if=${file}`, `of=${raw}`]);
  assert.is((await execa('debugfs', ['-R', 'cat /etc/hello', raw])).stdout, 'from the host');
  await execa('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=1M', 'skip=1', 'count=5', `if=${file}`, `of=${raw}`]);
  assert.match((await execa('debugfs', ['-R', 'stat /etc/hello', raw], { reject: false })).stderr, 'File not found by ext2_lookup');
});

test('a GPT with entry size 0 and four billion entries is refused at once (it made the reader spin for minutes)', async () => {
  const message = await refusal('size0', { sizeMiB: 4, entrySize: 0, entryCount: 0xffffffff, partitions: [] });
  assert.is(message, header + '  - GPT entry size 0 is not a power of two of at least 128 bytes\n  - GPT entry count 4294967295 is more than 1024');
  assert.is(await refusal('size100', { sizeMiB: 4, entrySize: 100, partitions: [] }), header + '  - GPT entry size 100 is not a power of two of at least 128 bytes');
});

test('a GPT with a huge entry count, or an entry array outside the disk, is refused', async () => {
  assert.is(await refusal('count', { sizeMiB: 4, entryCount: 1_000_000, partitions: [] }), header + '  - GPT entry count 1000000 is more than 1024');
  assert.is(
    await refusal('array', { sizeMiB: 4, entriesLba: 1n << 60n, partitions: [] }),
    header + '  - the GPT entry array (LBA 1152921504606846976, 128 entries of 128 bytes) does not lie within the disk (8192 sectors) after the header',
  );
  assert.is(
    await refusal('far', { sizeMiB: 4, entriesLba: 4096n, partitions: [] }),
    header + '  - the GPT entry array (LBA 4096, 128 entries of 128 bytes) lies beyond the first 256 KiB of the disk, where vmbatch reads it',
  );
});

test('GPT partitions past the end of the disk, with a negative size, outside the usable LBAs or overlapping are all refused, each named', async () => {
  const message = await refusal('parts', {
    sizeMiB: 4,
    partitions: [
      { first: 2048n, last: 1n << 62n },
      { first: 5000n, last: 4000n },
      { first: 1n, last: 100n },
      { first: 2048n, last: 4095n },
      { first: 4000n, last: 6000n },
    ],
  });
  assert.is(
    message,
    header +
      [
        '  - GPT partition 1 (LBAs 2048-4611686018427387904) ends past the end of the disk (8192 sectors)',
        '  - GPT partition 2: its last LBA 4000 lies before its first LBA 5000 (a negative size)',
        '  - GPT partition 3 (LBAs 1-100) lies outside the usable LBAs 34-8158',
        '  - GPT partitions 4 (LBAs 2048-4095) and 5 (LBAs 4000-6000) overlap',
      ].join('\n'),
  );
});

test('a GPT header whose CRC does not match is refused; so is a GPT behind the MBR without its signature', async () => {
  const message = await refusal('crc', { sizeMiB: 4, partitions: [{ first: 2048n, last: 4095n }], badHeaderCrc: true });
  assert.match(message, /^the partition table of disk vda is invalid; nothing was written into it:\n {2}- GPT header CRC32 0xdeadbeef does not match its contents \(0x[0-9a-f]{8}\)$/);
  const file = join(dir, 'nosig.qcow2');
  await makeCraftedMbrImage(file, 4, [{ type: 0xee, start: 1, sectors: 8191 }]);
  const e = await expectVmbatchError(() => write(file), 'PARTITION_TABLE_INVALID');
  assert.is(e.message, header + "  - the protective MBR announces a GPT, but sector 1 has no 'EFI PART' signature");
});

test('MBR partitions past the end, at sector 0 or overlapping are refused, with the hint', async () => {
  const file = join(dir, 'mbr.qcow2');
  await makeCraftedMbrImage(file, 4, [
    { type: 0x83, start: 2048, sectors: 0xffffff00 },
    { type: 0x83, start: 0, sectors: 100 },
    { type: 0x83, start: 2048, sectors: 2048 },
    { type: 0x05, start: 3000, sectors: 1000 },
  ]);
  const e = await expectVmbatchError(() => write(file), 'PARTITION_TABLE_INVALID');
  assert.is(
    formatError(e),
    'vmbatch: PARTITION_TABLE_INVALID: ' +
      header +
      [
        '  - MBR partition 1 (sectors 2048-4294969087) ends past the end of the disk (8192 sectors)',
        '  - MBR partition 2 starts at sector 0, the MBR itself',
        '  - MBR partitions 1 (sectors 2048-4294969087) and 3 (sectors 2048-4095) overlap',
        '  - MBR partitions 1 (sectors 2048-4294969087) and 4 (sectors 3000-3999) overlap',
      ].join('\n') +
      '\n  hint: DISK contextualization needs a valid MBR or GPT within the disk (`sfdisk --verify IMAGE` or `sgdisk --verify IMAGE` checks it); repair or rebuild the image',
  );
});

test.run();
