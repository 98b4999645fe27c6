import { rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';

/**
 * Builds a real partitioned qcow2 image: sfdisk writes the table (MBR by default, or GPT),
 * mke2fs makes each ext4 file system at its partition's offset in the raw file (no loop
 * device, no mount).
 */
export async function makePartitionedImage(file: string, partitions: { sizeMiB: number; label: string }[], table: 'dos' | 'gpt' = 'dos'): Promise<void> {
  const raw = `${file}.raw`;
  // a GPT keeps a backup copy in the disk's last sectors
  const total = (table === 'gpt' ? 2 : 1) + partitions.reduce((s, p) => s + p.sizeMiB, 0);
  await execa('truncate', ['-s', `${total}M`, raw]);
  let start = 2048;
  const lines = [`label: ${table}`];
  for (const p of partitions) {
    lines.push(`start=${start}, size=${p.sizeMiB * 2048}, type=${table === 'gpt' ? 'L' : '83'}`);
    start += p.sizeMiB * 2048;
  }
  await execa('sfdisk', ['-q', raw], { input: lines.join('\n') + '\n' });
  start = 2048;
  for (const p of partitions) {
    await execa('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', p.label, '-E', `offset=${start * 512}`, raw, `${p.sizeMiB * 1024}k`]);
    start += p.sizeMiB * 2048;
  }
  await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, file]);
  rmSync(raw);
  writeFileSync(`${file}.layout`, JSON.stringify(partitions));
}

/** A GPT as a hostile image may carry it: every field can be set, the CRCs are right unless asked otherwise. */
export interface CraftedGpt {
  sizeMiB: number;
  entrySize?: number;
  entryCount?: number;
  entriesLba?: bigint;
  /** each partition's first and last LBA (may be reversed, overlapping or past the end) */
  partitions: { first: bigint; last: bigint }[];
  /** leave a wrong header CRC */
  badHeaderCrc?: boolean;
}

/**
 * Builds a qcow2 image whose first sectors hold a hand-made protective MBR and GPT header, with
 * whatever sizes `gpt` says (entry size 0, four billion entries, partitions past the end...).
 * The entry array written is at most 32 KiB, whatever the header claims.
 */
export async function makeCraftedGptImage(file: string, gpt: CraftedGpt): Promise<void> {
  const sectors = BigInt(gpt.sizeMiB * 2048);
  const entrySize = gpt.entrySize ?? 128;
  const entryCount = gpt.entryCount ?? 128;
  const entriesLba = gpt.entriesLba ?? 2n;
  const head = Buffer.alloc(2 * 512 + 32768);
  // protective MBR: one 0xee partition over the disk
  head[446 + 4] = 0xee;
  head.writeUInt32LE(1, 446 + 8);
  head.writeUInt32LE(Number(sectors - 1n > 0xffffffffn ? 0xffffffffn : sectors - 1n), 446 + 12);
  head.writeUInt16LE(0xaa55, 510);
  const array = head.subarray(1024);
  const slot = Math.max(entrySize, 128);
  gpt.partitions.forEach((p, i) => {
    const e = array.subarray(i * slot, i * slot + 128);
    e.fill(0x11, 0, 16); // a type GUID that is not zero
    e.fill(0x22, 16, 32);
    e.writeBigUInt64LE(p.first, 32);
    e.writeBigUInt64LE(p.last, 40);
  });
  const arrayBytes = Math.min(entryCount * entrySize, array.length);
  const header = head.subarray(512, 1024);
  header.write('EFI PART', 0, 'latin1');
  header.writeUInt32LE(0x00010000, 8);
  header.writeUInt32LE(92, 12);
  header.writeBigUInt64LE(1n, 24);
  header.writeBigUInt64LE(sectors - 1n, 32);
  header.writeBigUInt64LE(34n, 40);
  header.writeBigUInt64LE(sectors - 34n, 48);
  header.fill(0x33, 56, 72);
  header.writeBigUInt64LE(entriesLba, 72);
  header.writeUInt32LE(entryCount >>> 0, 80);
  header.writeUInt32LE(entrySize >>> 0, 84);
  header.writeUInt32LE(crc32(array.subarray(0, arrayBytes)), 88);
  header.writeUInt32LE(gpt.badHeaderCrc ? 0xdeadbeef : crc32(header.subarray(0, 92)), 16);
  const raw = `${file}.raw`;
  writeFileSync(raw, head);
  await execa('truncate', ['-s', `${gpt.sizeMiB}M`, raw]);
  await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, file]);
  rmSync(raw);
}

/** Builds a qcow2 image with a hand-made MBR: four primary entries, as given. */
export async function makeCraftedMbrImage(file: string, sizeMiB: number, entries: { type: number; start: number; sectors: number }[]): Promise<void> {
  const head = Buffer.alloc(512);
  entries.forEach((e, i) => {
    head[446 + i * 16 + 4] = e.type;
    head.writeUInt32LE(e.start, 446 + i * 16 + 8);
    head.writeUInt32LE(e.sectors, 446 + i * 16 + 12);
  });
  head.writeUInt16LE(0xaa55, 510);
  const raw = `${file}.raw`;
  writeFileSync(raw, head);
  await execa('truncate', ['-s', `${sizeMiB}M`, raw]);
  await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, file]);
  rmSync(raw);
}

// CRC-32 as the GPT uses it, written independently of src/ so that the test checks the parser.
function crc32(data: Buffer): number {
  let c = ~0 >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
