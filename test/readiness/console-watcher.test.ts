import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleLimits, watchConsole } from '../../src/readiness/console-watcher.js';

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

// Resolves once `predicate` holds (the watcher acts on its own inotify events; this only looks).
async function until(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// virtlogd's rollover: NAME.0 -> NAME.1 ..., NAME -> NAME.0, then a new NAME
function rotate(file: string): void {
  if (existsSync(`${file}.0`)) renameSync(`${file}.0`, `${file}.1`);
  renameSync(file, `${file}.0`);
}

test("virtlogd's rotation is followed: the rest of the old file, then the new one from its start, a line split across both included", async () => {
  const { file, done } = tempConsole();
  const watch = watchConsole(file, nonce);
  try {
    appendFileSync(file, 'before rotation\n');
    await until(() => watch.tail().includes('before rotation'));
    // the old file's last bytes are written just before the rename and read only after it
    appendFileSync(file, 'last of the old file\nVMBATCH-REA');
    rotate(file);
    writeFileSync(file, `DY ${nonce} rotated-guest\n`);
    assert.equal(await watch.signal, { kind: 'ready', detail: 'rotated-guest' });
    assert.is(watch.tail(), `before rotation\nlast of the old file\nVMBATCH-READY ${nonce} rotated-guest`);
  } finally {
    watch.close();
    done();
  }
});

test('a rotation whose new file comes later, and a second rotation, are followed too', async () => {
  const { file, done } = tempConsole();
  const watch = watchConsole(file, nonce);
  try {
    rotate(file);
    // the watcher has seen the rename (it reads what follows in the renamed file) before NAME exists again
    appendFileSync(`${file}.0`, 'old file after the rename\n');
    await until(() => watch.tail().includes('old file after the rename'));
    assert.not.ok(existsSync(file));
    writeFileSync(file, 'second file\n');
    await until(() => watch.tail().includes('second file'));
    rotate(file);
    writeFileSync(file, `third file\nVMBATCH-FAILED ${nonce} rte APPS/X-1: it broke\n`);
    assert.equal(await watch.signal, { kind: 'failed', detail: 'rte APPS/X-1: it broke' });
    assert.is(watch.tail(), `old file after the rename\nsecond file\nthird file\nVMBATCH-FAILED ${nonce} rte APPS/X-1: it broke`);
  } finally {
    watch.close();
    done();
  }
});

test('a 100 MB line without newline keeps memory bounded; a ready line at its end counts; the tail and details are capped and printable', async () => {
  const { file, done } = tempConsole();
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < 100; i++) appendFileSync(file, chunk);
  appendFileSync(file, ` VMBATCH-READY ${nonce} ${'y'.repeat(1000)}\x07\x1b[0m\n` + `${'z'.repeat(100_000)}`);
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 1);
  const watch = watchConsole(file, nonce);
  try {
    const signal = await watch.signal;
    assert.equal(signal, { kind: 'ready', detail: 'y'.repeat(consoleLimits.keptChars) + '...' });
    // an unbounded line would hold 100 MB in the heap
    assert.ok(peak - before < 40 * 1024 * 1024, `heap grew by ${Math.round((peak - before) / 1048576)} MiB`);
    const tail = watch.tail();
    assert.ok(tail.length <= consoleLimits.tailChars + 3, `tail of ${tail.length} characters`);
    // the endless line (its kept end holds the ready line) and what followed in the same read
    assert.is(tail, `${'x'.repeat(200)}...\n${'z'.repeat(200)}...`);
  } finally {
    clearInterval(sampler);
    watch.close();
    done();
  }
});

test("a flood of lines is read in slices: the event loop's timers still run; the console tail in an error stays capped", async () => {
  const { file, done } = tempConsole();
  const line = `${'f'.repeat(900)}\n`;
  writeFileSync(file, line.repeat(40_000));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const watch = watchConsole(file, nonce);
  try {
    appendFileSync(file, `VMBATCH-FAILED ${nonce} ${'\x01r'.repeat(400)}\n`);
    const signal = await watch.signal;
    assert.equal(signal, { kind: 'failed', detail: 'r'.repeat(200) + '...' });
    assert.ok(ticks > 3, `timers ran ${ticks} times while 36 MB were read`);
    const tail = watch.tail(50);
    assert.ok(tail.length <= consoleLimits.tailChars + 3, `tail of ${tail.length} characters`);
    assert.ok(tail.startsWith('...'));
  } finally {
    clearInterval(timer);
    watch.close();
    done();
  }
});

test.run();
