import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { asDiskFull } from '../../src/errors/disk-full.js';
import { runTool } from '../../src/exec/run-tool.js';
import { writeFileAtomic } from '../../src/fsutil/atomic-write.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

let mount: string;

// a full filesystem: a 64 KiB tmpfs with a file that takes all of it
test.before(async () => {
  mount = mkdtempSync('/tmp/vmbatch-enospc-');
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
  await execa('dd', ['if=/dev/zero', `of=${join(mount, 'fill')}`, 'bs=4k', 'count=64'], { reject: false });
  writeFileSync(join(mount, 'src.txt'), '', { flag: 'w' });
});
test.after(async () => {
  await execa('umount', [mount]);
  rmSync(mount, { recursive: true, force: true });
});

test('tools that hit a full disk (genisoimage, tar, qemu-img) raise the transient DISK_FULL naming the path, never TOOL_FAILED', async () => {
  const staging = mkdtempSync('/tmp/vmbatch-enospc-src-');
  try {
    writeFileSync(join(staging, 'job.sh'), 'x'.repeat(100_000));
    const iso = await expectVmbatchError(() => runTool(['genisoimage', '-quiet', '-input-charset', 'utf-8', '-o', join(mount, 'context.iso'), staging]), 'DISK_FULL');
    assert.is(iso.kind, 'transient');
    assert.match(iso.message, /^no space for the output of genisoimage: the filesystem is full \(ENOSPC\): genisoimage said: genisoimage: No space left on device/);
    const tar = await expectVmbatchError(() => runTool(['tar', '-c', '-f', join(mount, 'context.tar'), '-C', staging, '.']), 'DISK_FULL');
    assert.match(tar.message, new RegExp(`^no space for ${mount}/context\\.tar: the filesystem is full \\(ENOSPC\\): tar said: `));
    const img = await expectVmbatchError(() => runTool(['qemu-img', 'create', '-q', '-f', 'qcow2', join(mount, 'o.qcow2'), '1G']), 'DISK_FULL');
    assert.match(img.message, new RegExp(`^no space for ${mount}/o\\.qcow2: the filesystem is full \\(ENOSPC\\): qemu-img said: qemu-img: ${mount}/o\\.qcow2: .*No space left on device$`));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
});

test('Node errors with ENOSPC or EDQUOT (an atomic write, a mkdir) become DISK_FULL with their path; others pass unchanged', () => {
  let caught: unknown;
  try {
    writeFileAtomic(join(mount, 'state.json'), 'x'.repeat(100_000));
  } catch (error) {
    caught = error;
  }
  const full = asDiskFull(caught) as Error & { code?: string };
  assert.match(full.message, new RegExp(`^no space for ${mount}/state\\.json: the filesystem is full \\(ENOSPC in write\\)$`));
  assert.is((full as { kind?: string }).kind, 'transient');
  assert.not.ok(
    readdirSync(mount).some((n) => n.includes('.tmp.')),
    'the temp file is gone (and its descriptor closed: the tmpfs unmounts)',
  );
  const quota = Object.assign(new Error('EDQUOT: disk quota exceeded, mkdir'), { code: 'EDQUOT', syscall: 'mkdir', path: '/var/lib/vmbatch/jobs/1.vm' });
  assert.is((asDiskFull(quota) as Error).message, 'no space for /var/lib/vmbatch/jobs/1.vm: the disk quota is used up (EDQUOT in mkdir)');
  const other = Object.assign(new Error('nope'), { code: 'EACCES' });
  assert.is(asDiskFull(other), other);
});

test.run();
