import { rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';

/**
 * Builds a real MBR-partitioned qcow2 image: sfdisk writes the table, mke2fs makes each ext4
 * file system at its partition's offset in the raw file (no loop device, no mount).
 */
export async function makePartitionedImage(file: string, partitions: { sizeMiB: number; label: string }[]): Promise<void> {
  const raw = `${file}.raw`;
  const total = 1 + partitions.reduce((s, p) => s + p.sizeMiB, 0);
  await execa('truncate', ['-s', `${total}M`, raw]);
  let start = 2048;
  const lines = ['label: dos'];
  for (const p of partitions) {
    lines.push(`start=${start}, size=${p.sizeMiB * 2048}, type=83`);
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
