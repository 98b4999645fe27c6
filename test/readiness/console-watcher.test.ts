import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConsole } from '../../src/readiness/console-watcher.js';

const nonce = 'a'.repeat(32);
const other = 'b'.repeat(32);

function tempConsole(): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-console-'));
  const file = join(dir, 'console.log');
  writeFileSync(file, '');
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('the ready line of this job is noticed as soon as it is written, split writes included', async () => {
  const { file, done } = tempConsole();
  const watch = watchConsole(file, nonce);
  try {
    appendFileSync(file, '[    0.1] booting\r\n\x1b[6nVMBATCH-READY ' + other + ' guest\n');
    appendFileSync(file, 'VMBATCH-REA');
    appendFileSync(file, `DY ${nonce} vmbatch-guest\n`);
    const signal = await watch.signal;
    assert.equal(signal, { kind: 'ready', detail: 'vmbatch-guest' });
    assert.is(watch.tail(), `[    0.1] booting\nVMBATCH-READY ${other} guest\nVMBATCH-READY ${nonce} vmbatch-guest`);
  } finally {
    watch.close();
    done();
  }
});

test('a failure line carries its reason; lines already in the file count', async () => {
  const { file, done } = tempConsole();
  appendFileSync(file, `VMBATCH-FAILED ${nonce} dropbear did not start\n`);
  const watch = watchConsole(file, nonce);
  try {
    assert.equal(await watch.signal, { kind: 'failed', detail: 'dropbear did not start' });
  } finally {
    watch.close();
    done();
  }
});

test.run();
