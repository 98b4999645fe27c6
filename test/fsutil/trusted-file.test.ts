import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { readTrustedFile } from '../../src/fsutil/trusted-file.js';

let dir: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-trusted-'));
  chmodSync(dir, 0o755);
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test("root's own file below root's directories is read", () => {
  writeFileSync(join(dir, 'f'), 'text', { mode: 0o644 });
  assert.equal(readTrustedFile(join(dir, 'f'), [dir]), { text: 'text' });
  assert.equal(readTrustedFile(join(dir, 'missing'), [dir, join(dir, 'absent-dir')]), { absent: true });
});

test('a FIFO, a directory or a link in place of the file is refused without hanging or following it', async () => {
  await execa('mkfifo', [join(dir, 'fifo')]);
  assert.equal(readTrustedFile(join(dir, 'fifo'), [dir]), { untrusted: `${join(dir, 'fifo')} is not a regular file` });
  mkdirSync(join(dir, 'sub'), { mode: 0o755 });
  assert.equal(readTrustedFile(join(dir, 'sub'), [dir]), { untrusted: `${join(dir, 'sub')} is not a regular file` });
  writeFileSync(join(dir, 'real'), 'text', { mode: 0o644 });
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  assert.equal(readTrustedFile(join(dir, 'link'), [dir]), { untrusted: `${join(dir, 'link')} is a symbolic link` });
});

test('a directory above the file that others may write makes it untrusted, however sound the file', () => {
  mkdirSync(join(dir, 'open'), { mode: 0o755 });
  chmodSync(join(dir, 'open'), 0o1777);
  writeFileSync(join(dir, 'open', 'f'), 'text', { mode: 0o644 });
  assert.equal(readTrustedFile(join(dir, 'open', 'f'), [dir, join(dir, 'open')]), { untrusted: `${join(dir, 'open')} is writable by its group or others (mode 1777)` });
});

test.run();
