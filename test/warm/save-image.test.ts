// libvirt's QEMU save image header: a job's header (its own XML, the saved cookie) in front of the saved stream, and the images warm start refuses to read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSaveImageHeader, parseSaveImageHeader } from '../../src/warm/save-image.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const file = '/var/lib/vmbatch/warm/0123456789abcdef/memory.state';
const xml = "<domain type='qemu'>\n  <name>vmbatch-7.vm</name>\n  <description>ünïcode ✓</description>\n</domain>\n";
const cookie = '<qemuDomainSaveCookie>\n  <cpu mode="custom"/>\n</qemuDomainSaveCookie>\n';

test('a header round-trips its XML, cookie and running flag; the stream starts on a 4 KiB boundary after it', () => {
  const header = buildSaveImageHeader({ xml, cookie, wasRunning: true });
  assert.is(header.length % 4096, 0);
  assert.is(header.toString('latin1', 0, 16), 'LibvirtQemudSave');
  assert.is(header.readUInt32LE(16), 2, 'version 2');
  assert.is(header.readUInt32LE(20), header.length - 92, 'data_len: everything after the 92-byte header, padding included');
  assert.is(header.readUInt32LE(28), 0, 'not compressed');
  assert.is(header.readUInt32LE(32), Buffer.byteLength(xml) + 1, 'the cookie starts after the XML and its NUL');
  const stream = Buffer.from('QEVM\x00\x00\x00\x03 the migration stream');
  const image = Buffer.concat([header, stream]);
  assert.equal(parseSaveImageHeader(image, file), { wasRunning: true, xml, cookie, streamOffset: header.length });
  assert.equal(image.subarray(parseSaveImageHeader(image, file).streamOffset), stream);
  // the header alone (no stream yet) is enough to read it
  assert.equal(parseSaveImageHeader(header, file), { wasRunning: true, xml, cookie, streamOffset: header.length });
  const paused = buildSaveImageHeader({ xml: '<domain/>', cookie: '', wasRunning: false });
  assert.equal(parseSaveImageHeader(paused, file), { wasRunning: false, xml: '<domain/>', cookie: '', streamOffset: 4096 });
});

test('an XML that fills the first block exactly, or spills over it, still puts the stream on a boundary', () => {
  // 92 + (xml + NUL) + (cookie + NUL) = 4096: no padding at all
  const exact = 'x'.repeat(4096 - 92 - 2);
  const full = buildSaveImageHeader({ xml: exact, cookie: '', wasRunning: true });
  assert.is(full.length, 4096);
  assert.equal(parseSaveImageHeader(full, file), { wasRunning: true, xml: exact, cookie: '', streamOffset: 4096 });
  const over = buildSaveImageHeader({ xml: `${exact}y`, cookie: '', wasRunning: true });
  assert.is(over.length, 8192);
  assert.is(parseSaveImageHeader(over, file).xml, `${exact}y`);
  const big = 'z'.repeat(100_000);
  const large = buildSaveImageHeader({ xml: big, cookie, wasRunning: true });
  assert.is(large.length % 4096, 0);
  assert.equal(parseSaveImageHeader(large, file), { wasRunning: true, xml: big, cookie, streamOffset: large.length });
});

test('a file that is not a save image is refused by name, short or long', async () => {
  const notImage = await expectVmbatchError(() => parseSaveImageHeader(Buffer.alloc(8192, 'A'), file), 'WARM_STATE_UNUSABLE');
  assert.is(notImage.message, `the saved state ${file} cannot be used: it is not a libvirt save image (no LibvirtQemudSave header)`);
  assert.is(notImage.hint, '`vmbatch warm build TEMPLATE --force` makes it again');
  assert.is(notImage.kind, 'permanent');
  // libvirt's mark of a save that never finished
  const partial = buildSaveImageHeader({ xml, cookie, wasRunning: true });
  partial.write('LibvirtQemudPart', 0, 'latin1');
  assert.is(
    (await expectVmbatchError(() => parseSaveImageHeader(partial, file), 'WARM_STATE_UNUSABLE')).message,
    `the saved state ${file} cannot be used: it is not a libvirt save image (no LibvirtQemudSave header)`,
  );
  for (const bytes of [Buffer.alloc(0), Buffer.from('LibvirtQemudSave'), buildSaveImageHeader({ xml, cookie, wasRunning: true }).subarray(0, 91)]) {
    const e = await expectVmbatchError(() => parseSaveImageHeader(bytes, file), 'WARM_STATE_UNUSABLE');
    assert.is(e.message, `the saved state ${file} cannot be used: it is not a libvirt save image (no LibvirtQemudSave header)`);
  }
});

test('another version, a compressed image, a cut-short header and unterminated strings are refused with why', async () => {
  const image = () => buildSaveImageHeader({ xml, cookie, wasRunning: true });
  const refused = async (bytes: Buffer) => (await expectVmbatchError(() => parseSaveImageHeader(bytes, file), 'WARM_STATE_UNUSABLE')).message;

  const v3 = image();
  v3.writeUInt32LE(3, 16);
  assert.is(await refused(v3), `the saved state ${file} cannot be used: its save image version is 3, not 2`);
  const v1 = image();
  v1.writeUInt32LE(1, 16);
  assert.is(await refused(v1), `the saved state ${file} cannot be used: its save image version is 1, not 2`);

  for (const format of [1, 5]) {
    const compressed = image();
    compressed.writeUInt32LE(format, 28);
    assert.is(await refused(compressed), `the saved state ${file} cannot be used: it is compressed (save_image_format in qemu.conf); warm start reads raw images`);
  }

  assert.is(await refused(image().subarray(0, 200)), `the saved state ${file} cannot be used: its header is cut short`);
  // a data length no file holds (read as unsigned: no wrap-around to a small offset)
  const huge = image();
  huge.writeUInt32LE(0xffffffff, 20);
  assert.is(await refused(huge), `the saved state ${file} cannot be used: its header is cut short`);

  const cookieOutside = image();
  cookieOutside.writeUInt32LE(cookieOutside.readUInt32LE(20) + 1, 32);
  assert.is(await refused(cookieOutside), `the saved state ${file} cannot be used: its domain XML or cookie is not terminated`);
  const cookieFar = image();
  cookieFar.writeUInt32LE(0xffffffff, 32);
  assert.is(await refused(cookieFar), `the saved state ${file} cannot be used: its domain XML or cookie is not terminated`);
  // data with no NUL anywhere: the strings would run into the stream
  const unterminated = Buffer.concat([image().subarray(0, 92), Buffer.alloc(4004, 'x')]);
  assert.is(await refused(unterminated), `the saved state ${file} cannot be used: its domain XML or cookie is not terminated`);
});

test.run();
