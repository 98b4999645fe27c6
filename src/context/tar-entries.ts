import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { posix } from 'node:path';

/** One member of a tar archive, as its headers say (GNU long names and PAX paths applied). */
export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  linkName: string;
  size: number;
}

/**
 * Lists a tar archive's members by reading its headers (ustar, GNU long names, PAX path and
 * linkpath); gzip-compressed archives are read through zlib. Nothing is extracted: this is
 * what the escape check looks at before any tool touches the archive.
 */
export function readTarEntries(file: string): TarEntry[] {
  const data = readArchive(file);
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseOctal(header.subarray(124, 136));
    const typeflag = String.fromCharCode(header[156] || 48);
    const body = data.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (typeflag === 'L') longName = cString(body);
    else if (typeflag === 'K') longLink = cString(body);
    else if (typeflag === 'x') pax = parsePax(body);
    else if (typeflag === 'g') continue;
    else {
      const prefix = cString(header.subarray(345, 500));
      const plain = cString(header.subarray(0, 100));
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${plain}` : plain);
      const linkName = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
      entries.push({ name, type: typeOf(typeflag), linkName, size });
      longName = longLink = undefined;
      pax = {};
    }
  }
  return entries;
}

/**
 * The reasons an archive must not be unpacked below a directory after `strip` leading path
 * components are removed: absolute names, '..', links that lead out, devices and FIFOs.
 */
export function tarEscapes(entries: TarEntry[], strip: number): string[] {
  const problems: string[] = [];
  const links = new Set<string>();
  for (const entry of entries) {
    const parts = entry.name.split('/').filter((p) => p !== '' && p !== '.');
    // an entry below a link of the same archive is written through that link, wherever it leads
    const through = parts
      .slice(0, -1)
      .map((_, i) => parts.slice(0, i + 1).join('/'))
      .find((prefix) => links.has(prefix));
    if (entry.type === 'symlink' || entry.type === 'hardlink') links.add(parts.join('/'));
    if (entry.name.startsWith('/')) problems.push(`${entry.name}: an absolute path`);
    else if (through !== undefined) problems.push(`${entry.name}: below ${through}, a link in the same archive`);
    else if (parts.includes('..')) problems.push(`${entry.name}: a '..' component`);
    else if (entry.type === 'other') problems.push(`${entry.name}: a device, FIFO or other special file`);
    else if (entry.type === 'symlink' || entry.type === 'hardlink') {
      const stripped = parts.slice(strip);
      // a symlink resolves from its own directory, a hard link from the archive's root
      const target =
        entry.type === 'symlink'
          ? entry.linkName.startsWith('/')
            ? undefined
            : posix.normalize(posix.join(...(stripped.length > 1 ? stripped.slice(0, -1) : ['.']), entry.linkName))
          : entry.linkName.startsWith('/')
            ? undefined
            : posix.normalize(entry.linkName.split('/').slice(strip).join('/') || '.');
      if (target === undefined || target === '..' || target.startsWith('../'))
        problems.push(`${entry.name}: a ${entry.type === 'symlink' ? 'symbolic' : 'hard'} link to ${entry.linkName}, outside the target`);
    }
  }
  return problems;
}

/** Whether a file starts with gzip's magic bytes. */
export function isGzipFile(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    readSync(fd, magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function readArchive(file: string): Buffer {
  const raw = readFileSync(file);
  const data = isGzipFile(file) ? gunzipSync(raw) : raw;
  // tar(1) would unpack other compressions by itself: what cannot be checked is refused
  const compressed = [
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
    ['bzip2', [0x42, 0x5a, 0x68]],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
    ['lzma', [0x5d, 0x00, 0x00]],
    ['compress', [0x1f, 0x9d]],
  ] as const;
  for (const [name, magic] of compressed) if (magic.every((b, i) => data[i] === b)) throw new TarFormatError(`it is ${name}-compressed; use a plain or gzip-compressed tar`);
  if (data.length >= 512 && data.subarray(257, 262).toString('latin1') !== 'ustar' && !data.subarray(0, 512).every((b) => b === 0)) {
    throw new TarFormatError('it is not a tar archive (no ustar header)');
  }
  return data;
}

/** The archive cannot be checked: not a (plain or gzip) tar. */
export class TarFormatError extends Error {}

function parseOctal(field: Buffer): number {
  // GNU base-256 for sizes over 8 GiB
  if (field[0]! & 0x80) return field.subarray(1).reduce((n, b) => n * 256 + b, 0);
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end === -1 ? buf.length : end).toString('utf8');
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(body.subarray(i, space).toString(), 10);
    if (!len) break;
    const record = body.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

function typeOf(flag: string): TarEntry['type'] {
  if (flag === '0' || flag === '\0' || flag === '7') return 'file';
  if (flag === '5') return 'dir';
  if (flag === '2') return 'symlink';
  if (flag === '1') return 'hardlink';
  return 'other';
}
