/** One partition of a disk image: its number (as in vda2) and where it lies, in bytes. */
export interface Partition {
  number: number;
  offset: number;
  size: number;
}

/** The partitions of a table that passed every check, or every problem found in it. */
export type PartitionTableResult = { partitions: Partition[] } | { problems: string[] };

const sector = 512;
/** How much of a disk's start readPartitionTable needs: the MBR, the GPT header and entry arrays of up to 256 KiB. */
export const partitionTableHeadBytes = 512 * sector;
/** The most GPT entries vmbatch reads (the usual table has 128). */
export const maxGptEntries = 1024;

/**
 * Reads the partitions from the first sectors of a disk image of `diskBytes` bytes: an MBR's
 * four primary entries, or, behind a protective MBR, a GPT (header at LBA 1, entries where it
 * says). The table is checked before it is believed (the image may be hostile): signatures,
 * header and entry sizes, CRCs, the entry array within `head` and the disk, every partition
 * within the disk and none overlapping another. Every loop is bounded by the checked sizes.
 * `head` holds the disk's first partitionTableHeadBytes (less when the disk is smaller);
 * logical MBR partitions (5 and up) are not followed.
 */
export function readPartitionTable(head: Buffer, diskBytes: number): PartitionTableResult {
  if (head.length < 2 * sector || head.readUInt16LE(510) !== 0xaa55) return { partitions: [] };
  const diskSectors = BigInt(Math.floor(diskBytes / sector));
  const entries = [0, 1, 2, 3].map((i) => {
    const e = head.subarray(446 + i * 16, 446 + (i + 1) * 16);
    return { number: i + 1, type: e[4]!, first: BigInt(e.readUInt32LE(8)), sectors: BigInt(e.readUInt32LE(12)) };
  });
  if (entries.some((e) => e.type === 0xee)) return readGpt(head, diskSectors);
  const problems: string[] = [];
  const used = entries.filter((e) => e.type !== 0 && e.sectors > 0n);
  for (const e of used) {
    if (e.first === 0n) problems.push(`MBR partition ${e.number} starts at sector 0, the MBR itself`);
    else if (e.first + e.sectors > diskSectors) problems.push(`MBR partition ${e.number} (sectors ${e.first}-${e.first + e.sectors - 1n}) ends past the end of the disk (${diskSectors} sectors)`);
  }
  problems.push(
    ...overlaps(
      used.map((e) => ({ number: e.number, first: e.first, last: e.first + e.sectors - 1n })),
      'MBR partitions',
      'sectors',
    ),
  );
  if (problems.length) return { problems };
  return {
    partitions: used.filter((e) => e.type !== 0x05 && e.type !== 0x0f && e.type !== 0x85).map((e) => ({ number: e.number, offset: Number(e.first) * sector, size: Number(e.sectors) * sector })),
  };
}

function readGpt(head: Buffer, diskSectors: bigint): PartitionTableResult {
  const header = head.subarray(sector, 2 * sector);
  if (header.subarray(0, 8).toString('latin1') !== 'EFI PART') {
    return { problems: ["the protective MBR announces a GPT, but sector 1 has no 'EFI PART' signature"] };
  }
  const problems: string[] = [];
  const headerSize = header.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sector) problems.push(`GPT header size ${headerSize} is not between 92 and ${sector} bytes`);
  else {
    const copy = Buffer.from(header.subarray(0, headerSize));
    copy.writeUInt32LE(0, 16);
    const stored = header.readUInt32LE(16);
    if (crc32(copy) !== stored) problems.push(`GPT header CRC32 ${hex(stored)} does not match its contents (${hex(crc32(copy))})`);
  }
  const myLba = header.readBigUInt64LE(24);
  if (myLba !== 1n) problems.push(`the GPT header says it lies at LBA ${myLba}, not 1`);
  const firstUsable = header.readBigUInt64LE(40);
  const lastUsable = header.readBigUInt64LE(48);
  if (firstUsable > lastUsable || lastUsable >= diskSectors) {
    problems.push(`the GPT's usable LBAs ${firstUsable}-${lastUsable} do not lie within the disk (${diskSectors} sectors)`);
  }
  const entriesLba = header.readBigUInt64LE(72);
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const entrySizeOk = entrySize >= 128 && (entrySize & (entrySize - 1)) === 0;
  if (!entrySizeOk) problems.push(`GPT entry size ${entrySize} is not a power of two of at least 128 bytes`);
  if (count > maxGptEntries) problems.push(`GPT entry count ${count} is more than ${maxGptEntries}`);
  if (problems.length) return { problems };

  // the sizes are sane now: the array's bounds fit easily in a double
  const arrayStart = entriesLba * BigInt(sector);
  const arrayBytes = BigInt(count * entrySize);
  const arrayEnd = arrayStart + arrayBytes;
  if (entriesLba < 2n || arrayEnd > diskSectors * BigInt(sector)) {
    return { problems: [`the GPT entry array (LBA ${entriesLba}, ${count} entries of ${entrySize} bytes) does not lie within the disk (${diskSectors} sectors) after the header`] };
  }
  if (arrayEnd > BigInt(head.length)) {
    return {
      problems: [`the GPT entry array (LBA ${entriesLba}, ${count} entries of ${entrySize} bytes) lies beyond the first ${partitionTableHeadBytes / 1024} KiB of the disk, where vmbatch reads it`],
    };
  }
  const array = head.subarray(Number(arrayStart), Number(arrayEnd));
  const storedArrayCrc = header.readUInt32LE(88);
  if (crc32(array) !== storedArrayCrc) return { problems: [`GPT entry array CRC32 ${hex(storedArrayCrc)} does not match its contents (${hex(crc32(array))})`] };

  const found: { number: number; first: bigint; last: bigint }[] = [];
  for (let i = 0; i < count; i++) {
    const e = array.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const number = i + 1;
    const first = e.readBigUInt64LE(32);
    const last = e.readBigUInt64LE(40);
    if (last < first) problems.push(`GPT partition ${number}: its last LBA ${last} lies before its first LBA ${first} (a negative size)`);
    else if (last >= diskSectors) problems.push(`GPT partition ${number} (LBAs ${first}-${last}) ends past the end of the disk (${diskSectors} sectors)`);
    else if (first < firstUsable || last > lastUsable) problems.push(`GPT partition ${number} (LBAs ${first}-${last}) lies outside the usable LBAs ${firstUsable}-${lastUsable}`);
    else found.push({ number, first, last });
  }
  problems.push(...overlaps(found, 'GPT partitions', 'LBAs'));
  if (problems.length) return { problems };
  return { partitions: found.map((p) => ({ number: p.number, offset: Number(p.first) * sector, size: Number(p.last - p.first + 1n) * sector })) };
}

// Each pair of ranges that share a sector, in order of their start (sorted: n log n, not n²).
function overlaps(ranges: { number: number; first: bigint; last: bigint }[], what: string, unit: string): string[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.number - b.number));
  const problems: string[] = [];
  let reach: (typeof sorted)[number] | undefined;
  for (const r of sorted) {
    if (reach && r.first <= reach.last) problems.push(`${what} ${reach.number} (${unit} ${reach.first}-${reach.last}) and ${r.number} (${unit} ${r.first}-${r.last}) overlap`);
    if (!reach || r.last > reach.last) reach = r;
  }
  return problems;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

// CRC-32 (IEEE 802.3), as the GPT uses it; node:zlib has crc32 only from Node 22.
function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** The partition number in a device name like xvda2, vda1 or nvme0n1p3. */
export function partitionNumber(name: string): number | undefined {
  const m = /(\d+)$/.exec(name);
  return m && /[a-z]p?\d+$/.test(name) ? Number(m[1]) : undefined;
}
