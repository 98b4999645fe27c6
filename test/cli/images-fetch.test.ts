// `vmbatch images fetch` on a fresh node: the admin pre-fetches before any job ran, so the
// state directory (and the cache below it) do not exist yet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheScratch, runImagesCli, type CacheScratch } from '../helpers/image-cache.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';

let server: ImageServer;
let scratch: CacheScratch;
const data = randomBytes(65536);
const digest = createHash('sha256').update(data).digest('hex');

test.before(async () => {
  server = await startImageServer();
  server.route('/fresh.img', { kind: 'data', data });
  scratch = cacheScratch({}, mkdtempSync(join(tmpdir(), 'vmbatch-fresh-')));
});
test.after(async () => {
  rmSync(scratch.root, { recursive: true, force: true });
  await server.close();
});

test('images fetch on a node whose state directory does not exist yet makes it (root-owned, 0755) and caches the image', async () => {
  const stateDir = join(scratch.root, 'state');
  assert.throws(() => statSync(stateDir), /ENOENT/, 'a fresh node');
  const run = await runImagesCli(scratch, ['fetch', server.url('/fresh.img'), '--hash', `sha256:${digest}`]);
  assert.is(run.stderr, '');
  assert.is(run.exitCode, 0);
  assert.match(run.stdout, new RegExp(`^${server.url('/fresh.img').replace(/[.]/g, '\\.')}: cached as ${scratch.cacheDir}/images/[0-9a-f]{32}/image \\(65536 bytes, sha256:${digest}\\)$`));
  for (const dir of [stateDir, scratch.cacheDir, join(scratch.cacheDir, 'images')]) {
    const st = statSync(dir);
    assert.equal([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o755], dir);
  }
  assert.equal(readdirSync(stateDir).sort(), ['cache'], 'the fetch leaves no scratch directory');
  const again = await runImagesCli(scratch, ['fetch', server.url('/fresh.img'), '--hash', `sha256:${digest}`]);
  assert.is(again.exitCode, 0, again.stderr);
  assert.is(server.requests('/fresh.img'), 1, 'the second fetch finds it in the cache');
});

test.run();
