/** One partition of a disk image: its number (as in vda2) and where it lies, in bytes. */
export interface Partition {
  number: number;
  offset: number;
  size: number;
}

const sector = 512;

/**
 * Reads the partitions from the first sectors of a disk image: an MBR's four primary entries,
 * or, behind a protective MBR, a GPT (header at LBA 1, entries where it says). `head` must
 * hold at least the first 34 sectors (the GPT's first entries); logical MBR partitions (5 and
 * up) are not followed.
 */
export function readPartitionTable(head: Buffer): Partition[] {
  if (head.length < 2 * sector || head.readUInt16LE(510) !== 0xaa55) return [];
  const entries = [0, 1, 2, 3].map((i) => {
    const e = head.subarray(446 + i * 16, 446 + (i + 1) * 16);
    return { number: i + 1, type: e[4]!, start: e.readUInt32LE(8), sectors: e.readUInt32LE(12) };
  });
  if (entries.some((e) => e.type === 0xee)) return readGpt(head);
  return entries
    .filter((e) => e.type !== 0 && e.type !== 0x05 && e.type !== 0x0f && e.type !== 0x85 && e.sectors > 0)
    .map((e) => ({ number: e.number, offset: e.start * sector, size: e.sectors * sector }));
}

function readGpt(head: Buffer): Partition[] {
  const header = head.subarray(sector, 2 * sector);
  if (header.subarray(0, 8).toString('latin1') !== 'EFI PART') return [];
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const at = entriesLba * sector + i * entrySize;
    if (at + entrySize > head.length) break;
    const e = head.subarray(at, at + entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    partitions.push({ number: i + 1, offset: first * sector, size: (last - first + 1) * sector });
  }
  return partitions;
}

/** The partition number in a device name like xvda2, vda1 or nvme0n1p3. */
export function partitionNumber(name: string): number | undefined {
  const m = /(\d+)$/.exec(name);
  return m && /[a-z]p?\d+$/.test(name) ? Number(m[1]) : undefined;
}
