import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureCachedImage } from '../../src/images/ensure-cached.js';
import { readCacheUses } from '../../src/images/cache-context.js';
import { releaseCacheUses } from '../../src/images/release-uses.js';
import { entryKey, entryPaths } from '../../src/images/cache-entry.js';
import { entryUsers } from '../../src/images/cache-users.js';
import { createLogger } from '../../src/log/logger.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { cacheScratch, runImagesCli, templateSource, type CacheScratch } from '../helpers/image-cache.js';

const data = randomBytes(4 * 1024 * 1024);
const sha256 = createHash('sha256').update(data).digest('hex');
let server: ImageServer;
let scratch: CacheScratch;

test.before(async () => {
  server = await startImageServer();
  scratch = cacheScratch();
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const entryOf = (url: string) => entryPaths(scratch.cacheDir, 'download', entryKey(url));

test('the first job downloads, the next finds the entry; each is recorded as a user until released', async () => {
  server.route('/a.img', { kind: 'data', data });
  const url = server.url('/a.img');
  const first = await ensureCachedImage(scratch.ctx('1'), templateSource(url, { algorithm: 'sha256', value: sha256 }), 'raw');
  const second = await ensureCachedImage(scratch.ctx('2'), templateSource(url), 'raw');
  assert.is(server.requests('/a.img'), 1);
  assert.ok(readFileSync(first.paths.data).equals(data));
  assert.equal(second.meta, first.meta);
  assert.equal(first.meta.digests, [{ algorithm: 'sha256', value: sha256 }]);
  assert.equal(entryUsers(first.paths), ['testhost--1', 'testhost--2']);
  assert.equal(
    readCacheUses(scratch.ctx('1').usesFile).map((u) => u.entry.dir),
    [first.paths.dir],
  );
  // another algorithm is computed once from the cached file and kept
  const md5 = createHash('md5').update(data).digest('hex');
  const third = await ensureCachedImage(scratch.ctx('3'), templateSource(url, { algorithm: 'md5', value: md5 }), 'raw');
  assert.equal(
    third.meta.digests.map((d) => d.algorithm),
    ['sha256', 'md5'],
  );
  for (const job of ['1', '2', '3']) await releaseCacheUses(scratch.ctx(job).usesFile, `testhost--${job}`, createLogger(undefined, 't'));
  assert.equal(entryUsers(first.paths), []);
  assert.is(server.requests('/a.img'), 1);
});

test('16 processes at once for one uncached image: exactly one download, all get the verified entry', async () => {
  server.route('/sixteen.img', { kind: 'data', data });
  const url = server.url('/sixteen.img');
  const runs = await Promise.all(Array.from({ length: 16 }, () => runImagesCli(scratch, ['fetch', url, '--hash', `sha256:${sha256}`])));
  for (const run of runs) assert.is(run.exitCode, 0, run.stderr);
  assert.is(server.requests('/sixteen.img'), 1);
  const paths = entryOf(url);
  assert.equal(new Set(runs.map((r) => r.stdout)).size, 1, 'every process names the same entry');
  assert.ok(readFileSync(paths.data).equals(data));
  assert.equal(readdirSync(paths.dir).sort(), ['image', 'last-used', 'lock', 'meta.json', 'users']);
  assert.equal(entryUsers(paths), [], 'each fetch released its use');
});

test('a downloader killed with SIGKILL mid-transfer: the lock is free at once, the next one completes, no partial file is used', async () => {
  const url = server.url('/killed.img');
  server.route('/killed.img', { kind: 'slow', data, chunk: 65536, everyMs: 20 });
  const victim = execa(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'images', 'fetch', url], { env: { VMBATCH_CONFIG: scratch.configFile }, reject: false });
  // wait for the transfer to be under way: the server says what it sent
  await new Promise<void>((resolve) => server.events.on('sent', (path: string, bytes: number) => path === '/killed.img' && bytes >= 262144 && resolve()));
  const paths = entryOf(url);
  assert.ok(
    readdirSync(paths.dir).some((n) => n.startsWith('image.part-')),
    'a temp file is being written',
  );
  victim.kill('SIGKILL');
  await victim;
  assert.ok(!existsSync(paths.meta), 'a killed download never becomes an entry');
  server.route('/killed.img', { kind: 'data', data });
  const next = await runImagesCli(scratch, ['fetch', url, '--hash', `sha256:${sha256}`]);
  assert.is(next.exitCode, 0, next.stderr);
  assert.ok(readFileSync(paths.data).equals(data));
  assert.equal(
    readdirSync(paths.dir).filter((n) => n.includes('.part-')),
    [],
    "the dead downloader's temp file is gone",
  );
  assert.is(server.requests('/killed.img'), 2);
});

test('faults leave no entry behind: hash mismatch, 404, a base with a backing file, a wrong format', async () => {
  server.route('/b.img', { kind: 'data', data });
  const url = server.url('/b.img');
  const wrong = '0'.repeat(64);
  await expectVmbatchError(() => ensureCachedImage(scratch.ctx('4'), templateSource(url, { algorithm: 'sha256', value: wrong }), 'raw'), 'IMAGE_HASH_MISMATCH');
  assert.not.ok(existsSync(entryOf(url).dir));
  await expectVmbatchError(() => ensureCachedImage(scratch.ctx('4'), templateSource(server.url('/none.img')), 'raw'), 'DOWNLOAD_HTTP_STATUS');
  assert.not.ok(existsSync(entryOf(server.url('/none.img')).dir));

  const dir = join(scratch.root, 'qcow');
  mkdirSync(dir);
  await execa('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'secret.raw'), '1M']);
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', join(dir, 'secret.raw'), join(dir, 'evil.qcow2')]);
  server.route('/evil.qcow2', { kind: 'data', data: readFileSync(join(dir, 'evil.qcow2')) });
  const evil = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('4'), templateSource(server.url('/evil.qcow2')), 'qcow2'), 'IMAGE_HAS_BACKING_FILE');
  assert.is(evil.message, `the image ${server.url('/evil.qcow2')} has a backing file (${join(dir, 'secret.raw')}) and cannot be used as a base image`);
  assert.not.ok(existsSync(entryOf(server.url('/evil.qcow2')).dir));
  const mismatch = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('4'), templateSource(url), 'qcow2'), 'IMAGE_FORMAT_MISMATCH');
  assert.is(mismatch.message, `the image ${url} is raw, but the template declares <driver type='qcow2'/>`);
  assert.not.ok(existsSync(entryOf(url).dir));
  assert.equal(readCacheUses(scratch.ctx('4').usesFile), [], 'a failed job noted no use');
});

test('an image replaced upstream (new hash in the template) is fetched again', async () => {
  const url = server.url('/c.img');
  server.route('/c.img', { kind: 'data', data });
  await ensureCachedImage(scratch.ctx('5'), templateSource(url, { algorithm: 'sha256', value: sha256 }), 'raw');
  const updated = randomBytes(1024 * 1024);
  server.route('/c.img', { kind: 'data', data: updated });
  const value = createHash('sha256').update(updated).digest('hex');
  const again = await ensureCachedImage(scratch.ctx('6'), templateSource(url, { algorithm: 'sha256', value }), 'raw');
  assert.ok(readFileSync(again.paths.data).equals(updated));
  assert.is(server.requests('/c.img'), 2);
});

test("mirrors are tried in order after a 404 and a refused connection; the entry is the first URL's; a wrong hash moves on too", async () => {
  server.route('/m/gone.img', { kind: 'status', status: 404 });
  server.route('/m/good.img', { kind: 'data', data });
  server.route('/m/other.img', { kind: 'data', data: Buffer.from('not the image') });
  const first = server.url('/m/gone.img');
  const { log, lines } = recordingLogger();
  const source = { ...templateSource(first, { algorithm: 'sha256', value: sha256 }), mirrors: ['http://127.0.0.1:1/m/refused.img', server.url('/m/other.img'), server.url('/m/good.img')] };
  const got = await ensureCachedImage(scratch.ctx('m1', { log }), source, 'raw');
  assert.is(got.paths.dir, entryOf(first).dir, 'cached under the first URL, whichever mirror delivered');
  assert.is(got.meta.identity, first);
  assert.ok(readFileSync(got.paths.data).equals(data));
  const warnings = lines.filter((l) => l.level === 'warn').map((l) => `${l.msg} ${l.fields?.url}: ${l.fields?.error}`);
  assert.equal(warnings, [
    `download failed; trying the next URL ${first}: downloading ${first} failed: the server answered 404 Not Found`,
    'download failed; trying the next URL http://127.0.0.1:1/m/refused.img: downloading http://127.0.0.1:1/m/refused.img failed: the connection was refused',
    `download failed; trying the next URL ${server.url('/m/other.img')}: the image ${server.url('/m/other.img')} does not match its sha256 hash: expected ${sha256}, got ${createHash('sha256').update('not the image').digest('hex')}`,
  ]);
  assert.equal(readdirSync(got.paths.dir).sort(), ['image', 'last-used', 'lock', 'meta.json', 'users'], 'no part file of a failed mirror is left');
  // the next job finds the entry: no URL is asked again
  const before = ['/m/gone.img', '/m/other.img', '/m/good.img'].map((p) => server.requests(p));
  await ensureCachedImage(scratch.ctx('m2'), source, 'raw');
  assert.equal(
    ['/m/gone.img', '/m/other.img', '/m/good.img'].map((p) => server.requests(p)),
    before,
  );
  await releaseCacheUses(scratch.ctx('m1').usesFile, 'testhost--m1', createLogger(undefined, 'test'));
  await releaseCacheUses(scratch.ctx('m2').usesFile, 'testhost--m2', createLogger(undefined, 'test'));
});

test('every mirror failing: one transient failure makes the whole transient; all refused is permanent; each reason is listed', async () => {
  server.route('/m/404a.img', { kind: 'status', status: 404 });
  server.route('/m/404b.img', { kind: 'status', status: 404 });
  server.route('/m/503.img', { kind: 'status', status: 503 });
  const [a, b, c] = ['/m/404a.img', '/m/404b.img', '/m/503.img'].map((p) => server.url(p)) as [string, string, string];
  const transient = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('m3'), { ...templateSource(a), mirrors: [c, b] }, 'raw'), 'DOWNLOAD_MIRRORS_FAILED');
  assert.is(
    transient.message,
    `${a} could not be downloaded from any of its 3 URLs:\n  - downloading ${a} failed: the server answered 404 Not Found\n  - downloading ${c} failed: the server answered 503 Service Unavailable\n  - downloading ${b} failed: the server answered 404 Not Found`,
  );
  assert.is(transient.hint, 'at least one of the servers may recover; the job is requeued up to maxAttempts times. Fix or drop the URLs that are wrong');
  assert.is(transient.kind, 'transient');
  const refused = await expectVmbatchError(() => ensureCachedImage(scratch.ctx('m3'), { ...templateSource(a), mirrors: [b] }, 'raw'), 'DOWNLOAD_MIRRORS_REFUSED');
  assert.is(
    refused.message,
    `${a} could not be downloaded from any of its 2 URLs:\n  - downloading ${a} failed: the server answered 404 Not Found\n  - downloading ${b} failed: the server answered 404 Not Found`,
  );
  assert.is(refused.kind, 'permanent');
  assert.not.ok(existsSync(entryOf(a).dir), 'no entry is left');
  assert.equal(readCacheUses(scratch.ctx('m3').usesFile), [], 'a failed job uses nothing');
  // a single URL keeps its own error, unwrapped
  await expectVmbatchError(() => ensureCachedImage(scratch.ctx('m3'), { ...templateSource(a), mirrors: [] }, 'raw'), 'DOWNLOAD_HTTP_STATUS');
});

test('disk full: an announced size that cannot fit fails before a byte is written; a full disk mid-stream leaves nothing', async () => {
  const mount = join(scratch.root, 'small');
  mkdirSync(mount);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
  try {
    const small = cacheScratch({}, mount);
    server.route('/big.img', { kind: 'data', data });
    const url = server.url('/big.img');
    const early = await expectVmbatchError(() => ensureCachedImage(small.ctx('7'), templateSource(url), 'raw'), 'DISK_FULL');
    assert.match(early.message, new RegExp(`^no space for ${small.cacheDir}/images/[0-9a-f]{32}/image\\.part-[^:]+: the image has ${data.length} bytes, the filesystem has \\d+ free$`));
    assert.is(early.kind, 'transient');
    server.route('/chunked.img', { kind: 'chunked', data });
    const late = await expectVmbatchError(() => ensureCachedImage(small.ctx('7'), templateSource(server.url('/chunked.img')), 'raw'), 'DISK_FULL');
    assert.match(late.message, /: the filesystem is full \(ENOSPC\) after \d+ bytes$/);
    // no mirror can cure a full disk: the search ends there, the next URL is not asked
    server.route('/mirror-of-big.img', { kind: 'data', data });
    await expectVmbatchError(() => ensureCachedImage(small.ctx('7'), { ...templateSource(url), mirrors: [server.url('/mirror-of-big.img')] }, 'raw'), 'DISK_FULL');
    assert.is(server.requests('/mirror-of-big.img'), 0);
    assert.equal(readdirSync(join(small.cacheDir, 'images')), [], 'no half-written entry');
  } finally {
    await execa('umount', [mount]);
  }
});

test.run();
