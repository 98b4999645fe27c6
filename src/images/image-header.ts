import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** What an image's header says, read in-process without opening any file it names. */
export interface ImageHeader {
  /** qemu-img's name of the format the header is (raw when no known magic) */
  format: string;
  /** the guest-visible size in bytes */
  virtualSize: number;
  /** a backing file (qcow2, qcow) */
  backingFile?: string;
  /** an external data file (qcow2): its name, or a note that it is given at open time */
  dataFile?: string;
  /** a VHD differencing disk's parent */
  parent?: string;
  /** why the header cannot be judged safely (unknown feature bits, damage) */
  uncheckable?: string;
}

/** Formats whose headers vmbatch reads itself; every other format is refused as a base image. */
export const inspectableFormats = ['qcow2', 'qcow', 'vpc', 'raw'] as const;

const qcowMagic = 0x514649fb;
// qcow2 incompatible features: dirty, corrupt, external data file, compression type, extended L2
const qcow2DataFileBit = 1n << 2n;
const qcow2KnownIncompatible = 0x1fn;
const qcow2DataFileExtension = 0x44415441;
// a header and its extensions lie in the first cluster; clusters are at most 2 MiB
const maxHeaderBytes = 2 << 20;

/**
 * The magic of the first bytes: which format a file is, as far as its header tells. Used
 * instead of `qemu-img info` without -f, which would open whatever the probed header names.
 */
export function sniffFormat(head: Buffer, tail?: Buffer): string {
  if (head.length >= 8 && head.readUInt32BE(0) === qcowMagic) return head.readUInt32BE(4) === 1 ? 'qcow' : 'qcow2';
  if (head.subarray(0, 8).toString('latin1') === 'conectix' || tail?.subarray(0, 8).toString('latin1') === 'conectix') return 'vpc';
  const text = head.subarray(0, 64).toString('latin1');
  if (text.startsWith('KDMV') || text.startsWith('COWD') || text.startsWith('# Disk DescriptorFile')) return 'vmdk';
  if (text.startsWith('QED\0')) return 'qed';
  if (text.startsWith('vhdxfile')) return 'vhdx';
  if (text.startsWith('LUKS\xba\xbe')) return 'luks';
  if (head.length >= 68 && head.readUInt32LE(64) === 0xbeda107f) return 'vdi';
  if (text.startsWith('cloop')) return 'cloop';
  if (text.startsWith('bochs') || text.startsWith('Bochs Virtual HD Image')) return 'bochs';
  return 'raw';
}

/**
 * Reads the header of `file` as `format` (qemu-img's name) in this process: magic, version,
 * virtual size, backing file, external data file (qcow2 feature bit and header extension),
 * differencing parent (VHD). Nothing the header names is opened, and the file itself is opened
 * without following a symbolic link. A raw file is also sniffed: a raw disk whose first bytes
 * are another format's header is reported as that header, so a tool that probes is never led
 * outside. Returns `undefined` for a format it does not read (the caller refuses it).
 */
export async function readImageHeader(file: string, format: string): Promise<ImageHeader | undefined> {
  if (!(inspectableFormats as readonly string[]).includes(format)) return undefined;
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { format, virtualSize: 0, uncheckable: 'it is not a regular file' };
    const head = await readAt(handle, 0, Math.min(st.size, 64 * 1024));
    const tail = st.size >= 512 ? await readAt(handle, st.size - 512, 512) : undefined;
    const actual = sniffFormat(head, tail);
    const declared = format;
    if (declared === 'raw') {
      if (actual === 'raw' || actual === 'luks' || actual === 'vdi' || actual === 'cloop' || actual === 'bochs') return { format: 'raw', virtualSize: st.size };
      if (actual === 'qcow2' || actual === 'qcow' || actual === 'vpc') {
        const inner = await readKnownHeader(handle, actual, head, tail, st.size);
        return { ...inner, format: 'raw', virtualSize: st.size };
      }
      return { format: 'raw', virtualSize: st.size, uncheckable: `it is declared raw but holds a ${actual} header, a format that can name other files` };
    }
    if (actual !== declared) return { format: actual, virtualSize: 0 };
    return await readKnownHeader(handle, declared, head, tail, st.size);
  } finally {
    await handle.close();
  }
}

async function readKnownHeader(handle: FileHandle, format: string, head: Buffer, tail: Buffer | undefined, size: number): Promise<ImageHeader> {
  if (format === 'qcow2') return readQcow2(handle, head, size);
  if (format === 'qcow') return readQcow1(handle, head);
  return readVhd(handle, head, tail);
}

async function readQcow2(handle: FileHandle, head: Buffer, size: number): Promise<ImageHeader> {
  const damaged = (why: string): ImageHeader => ({ format: 'qcow2', virtualSize: 0, uncheckable: `its qcow2 header ${why}` });
  if (head.length < 72) return damaged('is truncated');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) return damaged(`has version ${version} (vmbatch reads versions 2 and 3)`);
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) return damaged(`has an invalid cluster size (2^${clusterBits})`);
  const clusterSize = 1 << clusterBits;
  const header = await readAt(handle, 0, Math.min(size, clusterSize, maxHeaderBytes));
  const facts: ImageHeader = { format: 'qcow2', virtualSize: Number(header.readBigUInt64BE(24)) };
  const backing = await readName(handle, header.readBigUInt64BE(8), header.readUInt32BE(16), clusterSize);
  if (backing === null) return damaged('has a backing file name outside its first cluster');
  if (backing !== undefined) facts.backingFile = backing;
  if (version === 2) return facts;
  if (header.length < 104) return damaged('is truncated');
  const incompatible = header.readBigUInt64BE(72);
  const headerLength = header.readUInt32BE(100);
  if (headerLength < 104 || headerLength > header.length) return damaged(`has an invalid header length (${headerLength})`);
  // the header extensions follow the header, 8-byte aligned, up to an end marker of type 0
  let at = headerLength;
  for (let n = 0; ; n++) {
    if (n > 1024 || at + 8 > header.length) return damaged('has header extensions beyond its first cluster');
    const type = header.readUInt32BE(at);
    const length = header.readUInt32BE(at + 4);
    if (type === 0) break;
    if (at + 8 + length > header.length) return damaged('has a header extension beyond its first cluster');
    if (type === qcow2DataFileExtension) facts.dataFile = printable(header.subarray(at + 8, at + 8 + length));
    at += 8 + Math.ceil(length / 8) * 8;
  }
  if (incompatible & qcow2DataFileBit) facts.dataFile ??= '(a file named when the image is opened)';
  const unknown = incompatible & ~qcow2KnownIncompatible;
  if (unknown) facts.uncheckable = `its qcow2 header sets incompatible feature bits vmbatch does not know (0x${unknown.toString(16)})`;
  return facts;
}

async function readQcow1(handle: FileHandle, head: Buffer): Promise<ImageHeader> {
  if (head.length < 48) return { format: 'qcow', virtualSize: 0, uncheckable: 'its qcow header is truncated' };
  const facts: ImageHeader = { format: 'qcow', virtualSize: Number(head.readBigUInt64BE(24)) };
  const backing = await readName(handle, head.readBigUInt64BE(8), head.readUInt32BE(16), 64 * 1024);
  if (backing === null) return { ...facts, uncheckable: 'its qcow header has a backing file name beyond its header' };
  if (backing !== undefined) facts.backingFile = backing;
  return facts;
}

// VHD: a 512-byte footer at the end (fixed disks), copied to the start for dynamic and
// differencing disks; disk type 4 is a differencing disk, whose dynamic header names a parent.
async function readVhd(handle: FileHandle, head: Buffer, tail: Buffer | undefined): Promise<ImageHeader> {
  const footer = head.subarray(0, 8).toString('latin1') === 'conectix' ? head : tail;
  if (!footer || footer.length < 512) return { format: 'vpc', virtualSize: 0, uncheckable: 'its VHD footer is truncated' };
  const facts: ImageHeader = { format: 'vpc', virtualSize: Number(footer.readBigUInt64BE(48)) };
  const type = footer.readUInt32BE(60);
  if (type === 4) {
    const dynamic = await readAt(handle, Number(footer.readBigUInt64BE(16)), 1024).catch(() => Buffer.alloc(0));
    const name = dynamic.length >= 576 ? utf16be(dynamic.subarray(64, 576)) : '';
    facts.parent = name || '(a parent disk)';
  } else if (type !== 2 && type !== 3) facts.uncheckable = `its VHD footer has an unknown disk type (${type})`;
  return facts;
}

// A name stored at `offset` with `length` bytes: undefined when there is none, null when it
// lies beyond `limit` (qemu refuses such a header too).
async function readName(handle: FileHandle, offset: bigint, length: number, limit: number): Promise<string | undefined | null> {
  if (offset === 0n || length === 0) return undefined;
  if (length > 1023 || offset + BigInt(length) > BigInt(limit)) return null;
  return printable(await readAt(handle, Number(offset), length));
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buffer.subarray(0, got);
}

// A name as it may be shown: NULs end it, control characters are escaped.
function printable(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return JSON.stringify((end < 0 ? bytes : bytes.subarray(0, end)).toString('utf8')).slice(1, -1);
}

function utf16be(bytes: Buffer): string {
  const swapped = Buffer.from(bytes);
  swapped.swap16();
  const text = swapped.toString('utf16le');
  const end = text.indexOf('\0');
  return JSON.stringify(end < 0 ? text : text.slice(0, end)).slice(1, -1);
}
