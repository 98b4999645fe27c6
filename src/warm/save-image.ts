import { VmbatchError } from '../errors/vmbatch-error.js';

// libvirt's QEMU save image (src/qemu/qemu_saveimage.h): a 92-byte header (magic, version 2,
// the length of the data that follows, whether the guest ran, compression, where the cookie
// starts), then the domain XML and the cookie (NUL-terminated, padded), then QEMU's migration
// stream. A restore checks that the XML it is given keeps the name and UUID in the image, so
// each job gets an image of its own: a new header with the job's XML in front of the same stream.
const magic = 'LibvirtQemudSave';
const headerBytes = 92;
const version = 2;

/** What a save image's header says, and where QEMU's stream starts. */
export interface SaveImageHeader {
  wasRunning: boolean;
  xml: string;
  cookie: string;
  /** the byte offset of the migration stream */
  streamOffset: number;
}

/** Reads the header of a save image (the first bytes of the file, at least up to the stream). */
export function parseSaveImageHeader(bytes: Buffer, file: string): SaveImageHeader {
  const bad = (reason: string) => new VmbatchError('WARM_STATE_UNUSABLE', { path: file, reason });
  if (bytes.length < headerBytes || bytes.toString('latin1', 0, 16) !== magic) throw bad('it is not a libvirt save image (no LibvirtQemudSave header)');
  const [v, dataLen, wasRunning, compressed, cookieOffset] = [16, 20, 24, 28, 32].map((o) => bytes.readUInt32LE(o)) as [number, number, number, number, number];
  if (v !== version) throw bad(`its save image version is ${v}, not ${version}`);
  if (compressed !== 0) throw bad('it is compressed (save_image_format in qemu.conf); warm start reads raw images');
  if (headerBytes + dataLen > bytes.length) throw bad('its header is cut short');
  const data = bytes.subarray(headerBytes, headerBytes + dataLen);
  const xmlEnd = data.indexOf(0);
  const cookieEnd = data.indexOf(0, cookieOffset);
  if (xmlEnd < 0 || cookieOffset > dataLen || cookieEnd < 0) throw bad('its domain XML or cookie is not terminated');
  return { wasRunning: wasRunning === 1, xml: data.toString('utf8', 0, xmlEnd), cookie: data.toString('utf8', cookieOffset, cookieEnd), streamOffset: headerBytes + dataLen };
}

/** A header (with data) for `xml` and the saved `cookie`, padded so that the stream starts on a 4 KiB boundary. */
export function buildSaveImageHeader(input: { xml: string; cookie: string; wasRunning: boolean }): Buffer {
  const xml = Buffer.from(`${input.xml}\0`, 'utf8');
  const cookie = Buffer.from(`${input.cookie}\0`, 'utf8');
  const unpadded = headerBytes + xml.length + cookie.length;
  const data = Buffer.concat([xml, cookie, Buffer.alloc((4096 - (unpadded % 4096)) % 4096)]);
  const header = Buffer.alloc(headerBytes);
  header.write(magic, 0, 'latin1');
  [version, data.length, input.wasRunning ? 1 : 0, 0, xml.length].forEach((value, i) => header.writeUInt32LE(value, 16 + 4 * i));
  return Buffer.concat([header, data]);
}
