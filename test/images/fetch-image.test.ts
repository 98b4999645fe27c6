import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchImage } from '../../src/images/fetch-image.js';
import type { ImageSource } from '../../src/images/image-source.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeTestCerts } from '../helpers/tls-certs.js';

const data = randomBytes(3 * 1024 * 1024 + 17);
const sha256 = createHash('sha256').update(data).digest('hex');
const md5 = createHash('md5').update(data).digest('hex');
let server: ImageServer;
let dir: string;

const source = (url: string, extra: Partial<ImageSource> = {}): ImageSource => ({ url, hash: undefined, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined, ...extra });
const fetchTo = (url: string, extra: Partial<ImageSource> = {}, stallTimeoutMs = 5000) => fetchImage({ source: source(url, extra), file: join(dir, 'out.part'), stallTimeoutMs, maxRedirects: 3 });

test.before(async () => {
  server = await startImageServer();
  server.route('/img', { kind: 'data', data });
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-fetch-'));
});
test.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
test.after.each(() => {
  // every fault leaves nothing behind
  assert.equal(
    readdirSync(dir).filter((n) => n !== 'keep'),
    [],
  );
});

test('streams the image and computes the digest it was asked for on the way', async () => {
  const result = await fetchTo(server.url('/img'), { hash: { algorithm: 'md5', value: md5 } });
  assert.equal(result.digest, { algorithm: 'md5', value: md5 });
  assert.is(result.bytes, data.length);
  assert.ok(readFileSync(join(dir, 'out.part')).equals(data));
  rmSync(join(dir, 'out.part'));
  const plain = await fetchTo(server.url('/img'));
  assert.equal(plain.digest, { algorithm: 'sha256', value: sha256 }, 'sha256 when no hash is given');
  rmSync(join(dir, 'out.part'));
});

test('404 and 500 name the URL and the status', async () => {
  const missing = await expectVmbatchError(() => fetchTo(server.url('/nothing')), 'DOWNLOAD_HTTP_STATUS');
  assert.is(missing.message, `downloading ${server.url('/nothing')} failed: the server answered 404 Not Found`);
  assert.is(missing.kind, 'permanent');
  server.route('/500', { kind: 'status', status: 500 });
  const broken = await expectVmbatchError(() => fetchTo(server.url('/500')), 'DOWNLOAD_SERVER_ERROR');
  assert.is(broken.message, `downloading ${server.url('/500')} failed: the server answered 500 Internal Server Error`);
  assert.is(broken.kind, 'transient', 'a server error requeues the job');
});

test('a conditional fetch: 304 writes nothing and says so; a changed file streams with its new validators; a 304 nobody asked for is an error', async () => {
  server.route('/tagged', { kind: 'data', data, etag: '"abc"', lastModified: 'Sat, 01 Mar 2025 11:00:00 GMT' });
  const file = join(dir, 'out.part');
  const fetchIf = (etag: string) => fetchImage({ source: source(server.url('/tagged')), file, stallTimeoutMs: 5000, maxRedirects: 3, validators: { etag } });
  const same = await fetchIf('"abc"');
  assert.equal({ ...same, ms: 0 }, { notModified: true, finalUrl: server.url('/tagged'), ms: 0 });
  const changed = await fetchIf('"old"');
  assert.ok('validators' in changed && changed.bytes === data.length);
  assert.equal('validators' in changed && changed.validators, { etag: '"abc"', lastModified: 'Sat, 01 Mar 2025 11:00:00 GMT' });
  rmSync(file);
  server.route('/always-304', { kind: 'status', status: 304 });
  const unasked = await expectVmbatchError(() => fetchTo(server.url('/always-304')), 'DOWNLOAD_HTTP_STATUS');
  assert.is(unasked.message, `downloading ${server.url('/always-304')} failed: the server answered 304 Not Modified`);
});

test('a connection reset and a short body are told apart, with the bytes that came', async () => {
  server.route('/reset', { kind: 'broken', data, after: 65536, how: 'reset' });
  const reset = await expectVmbatchError(() => fetchTo(server.url('/reset')), 'DOWNLOAD_INCOMPLETE');
  assert.match(reset.message, new RegExp(`^downloading ${server.url('/reset')} failed: the connection was reset after \\d+ of ${data.length} bytes$`));
  server.route('/short', { kind: 'broken', data, after: 65536, how: 'close' });
  const short = await expectVmbatchError(() => fetchTo(server.url('/short')), 'DOWNLOAD_INCOMPLETE');
  assert.is(short.message, `downloading ${server.url('/short')} failed: the connection closed early after 65536 of ${data.length} bytes`);
});

test('a wrong hash is refused and the bytes are not kept', async () => {
  const wrong = 'f'.repeat(64);
  const error = await expectVmbatchError(() => fetchTo(server.url('/img'), { hash: { algorithm: 'sha256', value: wrong } }), 'IMAGE_HASH_MISMATCH');
  assert.is(error.message, `the image ${server.url('/img')} does not match its sha256 hash: expected ${wrong}, got ${sha256}`);
});

test('redirects are followed; a loop and too many are refused with the chain', async () => {
  server.route('/r1', { kind: 'redirect', to: '/img' });
  assert.is((await fetchTo(server.url('/r1'))).finalUrl, server.url('/img'));
  rmSync(join(dir, 'out.part'));
  server.route('/a', { kind: 'redirect', to: '/b' });
  server.route('/b', { kind: 'redirect', to: '/a' });
  const loop = await expectVmbatchError(() => fetchTo(server.url('/a')), 'DOWNLOAD_REDIRECT_LOOP');
  assert.is(
    formatError(loop).split('\n').slice(0, 4).join('\n'),
    [`vmbatch: DOWNLOAD_REDIRECT_LOOP: downloading ${server.url('/a')} failed: the redirects form a loop:`, `  - ${server.url('/a')}`, `  - ${server.url('/b')}`, `  - ${server.url('/a')}`].join('\n'),
  );
  for (let i = 0; i < 5; i++) server.route(`/hop${i}`, { kind: 'redirect', to: `/hop${i + 1}` });
  const many = await expectVmbatchError(() => fetchTo(server.url('/hop0')), 'DOWNLOAD_REDIRECT_LOOP');
  assert.match(many.message, 'failed: more than 3 redirects');
  server.route('/tofile', { kind: 'redirect', to: 'file:///etc/shadow' });
  const toFile = await expectVmbatchError(() => fetchTo(server.url('/tofile')), 'DOWNLOAD_FAILED');
  assert.is(toFile.message, `downloading ${server.url('/tofile')} failed: the server redirected to file:///etc/shadow, which is not an http(s) URL`);
});

test('a server that stalls fails after the stall timeout, not later', async () => {
  server.route('/stall', { kind: 'broken', data, after: 1000, how: 'stall' });
  const stalled = await expectVmbatchError(() => fetchTo(server.url('/stall'), {}, 300), 'DOWNLOAD_STALLED');
  assert.is(stalled.message, `downloading ${server.url('/stall')} failed: no data for 0.3 s (after 1000 bytes)`);
});

test('a download that streams but cannot finish within the budget fails at the deadline', async () => {
  server.route('/crawl', { kind: 'slow', data, chunk: 1024, everyMs: 10 });
  const error = await expectVmbatchError(
    () => fetchImage({ source: source(server.url('/crawl')), file: join(dir, 'out.part'), stallTimeoutMs: 5000, maxRedirects: 3, deadline: Date.now() + 300 }),
    'DOWNLOAD_DEADLINE',
  );
  assert.match(error.message, new RegExp(`^downloading ${server.url('/crawl')} did not finish within the prologue's budget \\(\\d+ bytes in 0 s\\)$`));
  assert.is(error.kind, 'transient');
});

test('a size limit is enforced from Content-Length, before the first byte is written', async () => {
  const error = await expectVmbatchError(() => fetchTo(server.url('/img'), { maxBytes: 1048576 }), 'IMAGE_TOO_LARGE');
  assert.is(error.message, `the image ${server.url('/img')} is larger than the 1 MiB the site allows (${data.length} bytes)`);
});

test('a connection refused is transient and names the URL', async () => {
  const error = await expectVmbatchError(() => fetchTo('http://127.0.0.1:1/img'), 'DOWNLOAD_FAILED');
  assert.is(error.message, 'downloading http://127.0.0.1:1/img failed: the connection was refused');
  assert.is(error.kind, 'transient');
});

test('https trusts the CA of images.caFile besides the public ones, and only with it', async () => {
  const tlsDir = mkdtempSync(join(tmpdir(), 'vmbatch-tls-'));
  const certs = await makeTestCerts(tlsDir);
  const secure = await startImageServer({ tls: { key: certs.key, cert: certs.cert } });
  try {
    secure.route('/img', { kind: 'data', data });
    const file = join(dir, 'out.part');
    const result = await fetchImage({ source: source(secure.url('/img')), file, stallTimeoutMs: 5000, maxRedirects: 3, caFile: certs.caFile });
    assert.equal(result.digest, { algorithm: 'sha256', value: sha256 });
    rmSync(file);
    const untrusted = await expectVmbatchError(() => fetchTo(secure.url('/img')), 'DOWNLOAD_FAILED');
    assert.is(
      untrusted.message,
      `downloading ${secure.url('/img')} failed: the server's certificate is not trusted: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); a site CA must be listed in images.caFile`,
    );
  } finally {
    await secure.close();
    rmSync(tlsDir, { recursive: true, force: true });
  }
});

test.run();
