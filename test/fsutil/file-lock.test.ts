import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { acquireFileLock } from '../../src/fsutil/file-lock.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { repoRoot } from '../helpers/paths.js';

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-lock-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the lock excludes: a waiter that times out names the holder', async () => {
  const path = join(dir, 'a.lock');
  const held = await acquireFileLock(path, { timeoutMs: 1000, purpose: 'downloading x' });
  assert.match(readFileSync(path, 'utf8'), new RegExp(`^${hostname()} pid ${process.pid} since \\S+: downloading x\\n$`));
  const error = await expectVmbatchError(() => acquireFileLock(path, { timeoutMs: 200, purpose: 'y' }), 'CACHE_LOCK_TIMEOUT');
  assert.match(error.message, new RegExp(`^waited 0 s for the image cache lock ${path}, held by ${hostname()} pid ${process.pid} since \\S+: downloading x$`));
  held.release();
  held.release();
  const again = await acquireFileLock(path, { timeoutMs: 200, purpose: 'z' });
  again.release();
});

test('a waiter gets the lock as soon as it is released, without polling', async () => {
  const path = join(dir, 'b.lock');
  const held = await acquireFileLock(path, { timeoutMs: 1000, purpose: 'first' });
  let got = false;
  const waiting = acquireFileLock(path, { timeoutMs: 10_000, purpose: 'second' }).then((l) => {
    got = true;
    return l;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.is(got, false);
  const released = Date.now();
  held.release();
  (await waiting).release();
  assert.ok(Date.now() - released < 1000);
});

test('a holder killed with SIGKILL leaves no lock behind', async () => {
  const path = join(dir, 'c.lock');
  const moduleUrl = new URL(`file://${join(repoRoot, 'dist/src/fsutil/file-lock.js')}`).href;
  const holder = execa(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireFileLock } = await import(${JSON.stringify(moduleUrl)}); await acquireFileLock(${JSON.stringify(path)}, { timeoutMs: 1000, purpose: 'doomed' }); console.log('locked'); setInterval(() => {}, 1000);`,
    ],
    { reject: false, buffer: false },
  );
  await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
  await expectVmbatchError(() => acquireFileLock(path, { timeoutMs: 100, purpose: 'early' }), 'CACHE_LOCK_TIMEOUT');
  holder.kill('SIGKILL');
  await holder;
  const lock = await acquireFileLock(path, { timeoutMs: 1000, purpose: 'after' });
  lock.release();
});

test('a lock file removed under a waiter (prune) is not trusted: the waiter locks the new one', async () => {
  const path = join(dir, 'd', 'e.lock');
  const held = await acquireFileLock(path, { timeoutMs: 1000, purpose: 'pruning' });
  const waiting = acquireFileLock(path, { timeoutMs: 5000, purpose: 'user' });
  await new Promise((r) => setTimeout(r, 100));
  rmSync(join(dir, 'd'), { recursive: true });
  held.release();
  const lock = await waiting;
  assert.match(readFileSync(path, 'utf8'), /: user\n$/);
  lock.release();
});

test.run();
