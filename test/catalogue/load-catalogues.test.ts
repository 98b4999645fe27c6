import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogueEntryPaths, fetchCatalogueText, type CatalogueFetchOptions } from '../../src/catalogue/catalogue-source.js';
import { loadCatalogues } from '../../src/catalogue/load-catalogues.js';
import { readCatalogue } from '../../src/catalogue/read-catalogue.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { VmbatchError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.js';

const catalogue = (base: string) =>
  '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">' + `<kb:BaseSystem rdf:about="#b" kb:name="${base}"/></rdf:RDF>\n`;
const broken = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">\n<kb:BaseSystem rdf:about="#b"\n';

let root: string;
let server: ImageServer;
let secure: ImageServer;
let certs: TestCerts;
let n = 0;
/** a fresh cache directory per test: no test sees another's cached copies */
let cacheDir: string;
const { log, lines } = recordingLogger();
const options = (extra: Partial<CatalogueFetchOptions> = {}): CatalogueFetchOptions => ({
  cacheDir,
  refreshSeconds: 3600,
  stallTimeoutMs: 2000,
  maxRedirects: 3,
  deadline: Date.now() + 30_000,
  log,
  ...extra,
});
const configOf = (sources: string[], extra: { refreshSeconds?: number; caFile?: string } = {}): Config =>
  configSchema.parse({
    stateDir: join(root, 'state'),
    images: { cacheDir, stallTimeoutSeconds: 2, caFile: extra.caFile },
    catalogue: { sources, refreshSeconds: extra.refreshSeconds ?? 3600 },
  });
const load = (config: Config) => loadCatalogues(config, { deadline: Date.now() + 30_000, log });
const baseNames = (catalogues: { baseSystems: { name: string }[] }[]) => catalogues.map((c) => c.baseSystems.map((b) => b.name).join(','));
const route = (path: string, text: string) => server.route(path, { kind: 'data', data: Buffer.from(text) });

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmbatch-catalogues-'));
  mkdirSync(join(root, 'tls'));
  certs = await makeTestCerts(join(root, 'tls'));
  server = await startImageServer();
  secure = await startImageServer({ tls: { key: certs.key, cert: certs.cert } });
  secure.route('/site.rdf', { kind: 'data', data: Buffer.from(catalogue('Site-Linux')) });
});
test.after(async () => {
  await server.close();
  await secure.close();
  rmSync(root, { recursive: true, force: true });
});
test.before.each(() => {
  cacheDir = join(root, `cache-${n++}`);
  lines.length = 0;
});
test.after.each(() => {
  // no temp file of a download is ever left in an entry
  const dir = join(cacheDir, 'catalogues');
  let keys: string[] = [];
  try {
    keys = readdirSync(dir);
  } catch {
    return;
  }
  for (const key of keys)
    assert.equal(
      readdirSync(join(dir, key)).filter((f) => f.includes('.part-')),
      [],
      'temp files left',
    );
});

test('a local catalogue file is read as it is', async () => {
  const file = join(root, 'local.rdf');
  writeFileSync(file, catalogue('Debian-12'));
  const text = await fetchCatalogueText(file, options());
  assert.equal(text, { text: catalogue('Debian-12'), source: file, from: 'file' });
  const catalogues = await load(configOf([file]));
  assert.equal(baseNames(catalogues), ['Debian-12']);
  assert.is(catalogues[0]!.source, file);
});

test('an unreadable local catalogue is CATALOGUE_UNAVAILABLE with the reason', async () => {
  const file = join(root, 'missing.rdf');
  const error = await expectVmbatchError(() => load(configOf([file])), 'CATALOGUE_UNAVAILABLE');
  assert.is(error.message, `the software catalogue ${file} cannot be read and no earlier copy is cached: no such file (ENOENT)`);
  assert.equal(lines, [{ level: 'error', msg: 'catalogue unusable', fields: { source: file, from: undefined, fetchedAt: undefined, code: 'CATALOGUE_UNAVAILABLE' } }]);
});

test('a remote catalogue is fetched once and then read from the cache without a GET', async () => {
  route('/once.rdf', catalogue('Debian-12'));
  const url = server.url('/once.rdf');
  const config = configOf([url]);
  assert.equal(baseNames(await load(config)), ['Debian-12']);
  assert.is(server.requests('/once.rdf'), 1);
  assert.equal(baseNames(await load(config)), ['Debian-12']);
  assert.is(server.requests('/once.rdf'), 1, 'the second load asks nobody');
  const again = await fetchCatalogueText(url, options());
  assert.is(again.from, 'cache');
  const paths = catalogueEntryPaths(cacheDir, url);
  assert.is(readFileSync(paths.data, 'utf8'), catalogue('Debian-12'));
  assert.equal(readdirSync(paths.dir).sort(), ['catalogue.rdf', 'lock', 'meta.json']);
  assert.is(lines.filter((l) => l.msg === 'catalogue fetched').length, 1);
});

test('a cached copy older than refreshSeconds is fetched again', async () => {
  route('/refresh.rdf', catalogue('Old-1'));
  const url = server.url('/refresh.rdf');
  const t0 = Date.parse('2025-03-01T12:00:00.000Z');
  const first = await fetchCatalogueText(url, options({ now: () => t0 }));
  assert.equal({ ...first, catalogue: undefined }, { text: catalogue('Old-1'), source: url, from: 'download', fetchedAt: '2025-03-01T12:00:00.000Z', catalogue: undefined });
  assert.equal(
    first.catalogue?.baseSystems.map((b) => b.name),
    ['Old-1'],
    'the check of the download is the catalogue read',
  );
  route('/refresh.rdf', catalogue('New-2'));
  const young = await fetchCatalogueText(url, options({ now: () => t0 + 3599_000 }));
  assert.equal(young, { text: catalogue('Old-1'), source: url, from: 'cache', fetchedAt: '2025-03-01T12:00:00.000Z' });
  assert.is(server.requests('/refresh.rdf'), 1);
  const old = await fetchCatalogueText(url, options({ now: () => t0 + 3600_000 }));
  assert.equal({ ...old, catalogue: undefined }, { text: catalogue('New-2'), source: url, from: 'download', fetchedAt: '2025-03-01T13:00:00.000Z', catalogue: undefined });
  assert.is(server.requests('/refresh.rdf'), 2);
  // catalogue.refreshSeconds reaches the fetch: 0 refreshes on every load
  await load(configOf([url], { refreshSeconds: 0 }));
  assert.is(server.requests('/refresh.rdf'), 3);
});

test('a refresh is a conditional GET: 304 keeps the cached copy (fresh again, no download, no check); a new version replaces it', async () => {
  const url = server.url('/etag.rdf');
  const lastModified = 'Sat, 01 Mar 2025 11:00:00 GMT';
  server.route('/etag.rdf', { kind: 'data', data: Buffer.from(catalogue('Tagged-1')), etag: '"v1"', lastModified });
  const t0 = Date.parse('2025-03-01T12:00:00.000Z');
  const first = await fetchCatalogueText(url, options({ now: () => t0 }));
  assert.is(first.from, 'download');
  assert.is(server.lastHeaders('/etag.rdf')?.['if-none-match'], undefined, 'nothing cached: a plain GET');
  const meta = JSON.parse(readFileSync(catalogueEntryPaths(cacheDir, url).meta, 'utf8')) as { etag?: string; lastModified?: string };
  assert.equal([meta.etag, meta.lastModified], ['"v1"', lastModified]);

  const later = await fetchCatalogueText(url, options({ now: () => t0 + 3600_000 }));
  assert.equal(later, { text: catalogue('Tagged-1'), source: url, from: 'revalidated', fetchedAt: '2025-03-01T13:00:00.000Z' });
  assert.equal([server.lastHeaders('/etag.rdf')?.['if-none-match'], server.lastHeaders('/etag.rdf')?.['if-modified-since']], ['"v1"', lastModified]);
  assert.is(server.notModified('/etag.rdf'), 1);
  assert.equal(
    lines.map((l) => l.msg),
    ['catalogue fetched', 'catalogue not modified'],
  );
  // fresh again from the 304 on: the next hour asks nobody
  assert.is((await fetchCatalogueText(url, options({ now: () => t0 + 2 * 3600_000 - 1000 }))).from, 'cache');
  assert.is(server.requests('/etag.rdf'), 2);

  server.route('/etag.rdf', { kind: 'data', data: Buffer.from(catalogue('Tagged-2')), etag: '"v2"' });
  const changed = await fetchCatalogueText(url, options({ now: () => t0 + 3 * 3600_000 }));
  assert.equal([changed.from, changed.text], ['download', catalogue('Tagged-2')]);
  const newMeta = JSON.parse(readFileSync(catalogueEntryPaths(cacheDir, url).meta, 'utf8')) as { etag?: string; lastModified?: string };
  assert.equal([newMeta.etag, newMeta.lastModified], ['"v2"', undefined], "the new version's validators replace the old ones");
});

test('a server without an ETag is asked If-Modified-Since; one that sends no validators gets plain GETs', async () => {
  const dated = server.url('/dated.rdf');
  server.route('/dated.rdf', { kind: 'data', data: Buffer.from(catalogue('Dated-1')), lastModified: 'Sat, 01 Mar 2025 11:00:00 GMT' });
  const t0 = Date.parse('2025-03-01T12:00:00.000Z');
  await fetchCatalogueText(dated, options({ now: () => t0 }));
  assert.is((await fetchCatalogueText(dated, options({ now: () => t0 + 3600_000 }))).from, 'revalidated');
  assert.equal([server.lastHeaders('/dated.rdf')?.['if-none-match'], server.lastHeaders('/dated.rdf')?.['if-modified-since']], [undefined, 'Sat, 01 Mar 2025 11:00:00 GMT']);
  const plain = server.url('/plain.rdf');
  route('/plain.rdf', catalogue('Plain-1'));
  await fetchCatalogueText(plain, options({ now: () => t0 }));
  assert.is((await fetchCatalogueText(plain, options({ now: () => t0 + 3600_000 }))).from, 'download');
  assert.equal([server.lastHeaders('/plain.rdf')?.['if-none-match'], server.lastHeaders('/plain.rdf')?.['if-modified-since']], [undefined, undefined]);
});

test('a server that is down: the cached copy is used, with a warning that says how old it is', async () => {
  const gone = await startImageServer();
  gone.route('/cat.rdf', { kind: 'data', data: Buffer.from(catalogue('Debian-12')) });
  const url = gone.url('/cat.rdf');
  const t0 = Date.parse('2025-03-01T12:00:00.000Z');
  await fetchCatalogueText(url, options({ now: () => t0 }));
  await gone.close();
  const text = await fetchCatalogueText(url, options({ now: () => t0 + 7300_000 }));
  assert.equal(text, { text: catalogue('Debian-12'), source: url, from: 'stale-cache', fetchedAt: '2025-03-01T12:00:00.000Z' });
  assert.equal(lines.slice(1), [
    {
      level: 'warn',
      msg: `the software catalogue ${url} cannot be refreshed; using the copy cached 2 h ago`,
      fields: { source: url, fetchedAt: '2025-03-01T12:00:00.000Z', ageSeconds: 7300, reason: `downloading ${url} failed: the connection was refused` },
    },
  ]);
});

test('a server error (503) also falls back to the cached copy', async () => {
  route('/flaky.rdf', catalogue('Debian-12'));
  const url = server.url('/flaky.rdf');
  const t0 = Date.now();
  await fetchCatalogueText(url, options({ now: () => t0 }));
  server.route('/flaky.rdf', { kind: 'status', status: 503 });
  const text = await fetchCatalogueText(url, options({ now: () => t0 + 90_000, refreshSeconds: 60 }));
  assert.is(text.from, 'stale-cache');
  assert.is(lines.at(-1)!.msg, `the software catalogue ${url} cannot be refreshed; using the copy cached 90 s ago`);
  assert.is(lines.at(-1)!.fields!.reason, `downloading ${url} failed: the server answered 503 Service Unavailable`);
});

test('a server that is down and no cached copy: CATALOGUE_UNAVAILABLE, transient, with the reason', async () => {
  const url = 'http://127.0.0.1:1/cat.rdf';
  const error = await expectVmbatchError(() => load(configOf([url])), 'CATALOGUE_UNAVAILABLE');
  assert.is(error.message, `the software catalogue ${url} cannot be read and no earlier copy is cached: downloading ${url} failed: the connection was refused`);
  assert.is(error.kind, 'transient');
});

test('404: CATALOGUE_UNAVAILABLE naming the status', async () => {
  const url = server.url('/nothing.rdf');
  const error = await expectVmbatchError(() => load(configOf([url])), 'CATALOGUE_UNAVAILABLE');
  assert.is(error.message, `the software catalogue ${url} cannot be read and no earlier copy is cached: downloading ${url} failed: the server answered 404 Not Found`);
});

test("a broken catalogue from the server raises the reader's error and keeps the good cached copy", async () => {
  route('/broken.rdf', catalogue('Good-1'));
  const url = server.url('/broken.rdf');
  const config = configOf([url], { refreshSeconds: 0 });
  assert.equal(baseNames(await load(config)), ['Good-1']);
  const paths = catalogueEntryPaths(cacheDir, url);
  const meta = readFileSync(paths.meta, 'utf8');
  route('/broken.rdf', broken);
  const expected = (() => {
    try {
      readCatalogue(broken, url);
    } catch (error) {
      return error as VmbatchError;
    }
    throw new Error('the fixture must not read');
  })();
  const error = await expectVmbatchError(() => load(config), expected.code);
  assert.is(error.message, expected.message);
  assert.is(server.requests('/broken.rdf'), 2);
  assert.is(readFileSync(paths.data, 'utf8'), catalogue('Good-1'), 'the good copy stays');
  assert.is(readFileSync(paths.meta, 'utf8'), meta, 'and so does its record');
  // once the server is fixed, the next load takes the new copy
  route('/broken.rdf', catalogue('Good-2'));
  assert.equal(baseNames(await load(config)), ['Good-2']);
});

test('https with images.caFile: the site CA is trusted', async () => {
  const url = secure.url('/site.rdf');
  const catalogues = await load(configOf([url], { caFile: certs.caFile }));
  assert.equal(baseNames(catalogues), ['Site-Linux']);
});

test('https without the site CA fails, and says it is the certificate', async () => {
  const url = secure.url('/site.rdf');
  const error = await expectVmbatchError(() => load(configOf([url])), 'CATALOGUE_UNAVAILABLE');
  assert.is(
    error.message,
    `the software catalogue ${url} cannot be read and no earlier copy is cached: downloading ${url} failed: ` +
      "the server's certificate is not trusted: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); a site CA must be listed in images.caFile",
  );
});

test('a caFile that is missing or not PEM is named in the reason', async () => {
  const url = secure.url('/site.rdf');
  const missing = join(root, 'no-ca.pem');
  const absent = await expectVmbatchError(() => load(configOf([url], { caFile: missing })), 'CATALOGUE_UNAVAILABLE');
  assert.is(absent.message, `the software catalogue ${url} cannot be read and no earlier copy is cached: downloading ${url} failed: cannot read images.caFile ${missing}: no such file`);
  const notPem = join(root, 'not-pem.pem');
  writeFileSync(notPem, 'this is not a certificate\n');
  const garbage = await expectVmbatchError(() => load(configOf([url], { caFile: notPem })), 'CATALOGUE_UNAVAILABLE');
  assert.is(
    garbage.message,
    `the software catalogue ${url} cannot be read and no earlier copy is cached: downloading ${url} failed: images.caFile ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
  );
});

test('concurrent loads, each its own lock holder, fetch the catalogue once', async () => {
  route('/busy.rdf', catalogue('Debian-12'));
  const url = server.url('/busy.rdf');
  // refreshSeconds 0: only the lock, not freshness, keeps the waiters from fetching again
  const texts = await Promise.all(Array.from({ length: 8 }, () => fetchCatalogueText(url, options({ refreshSeconds: 0 }))));
  assert.is(server.requests('/busy.rdf'), 1);
  assert.equal(texts.map((t) => t.from).sort(), ['cache', 'cache', 'cache', 'cache', 'cache', 'cache', 'cache', 'download']);
  assert.ok(texts.every((t) => t.text === catalogue('Debian-12')));
});

test('every source is read, in the configured order; the first failure names its source', async () => {
  const file = join(root, 'first.rdf');
  writeFileSync(file, catalogue('First-1'));
  route('/second.rdf', catalogue('Second-2'));
  const catalogues = await load(configOf([file, server.url('/second.rdf'), secure.url('/site.rdf')], { caFile: certs.caFile }));
  assert.equal(baseNames(catalogues), ['First-1', 'Second-2', 'Site-Linux']);
  assert.equal(
    catalogues.map((c) => c.source),
    [file, server.url('/second.rdf'), secure.url('/site.rdf')],
  );
  const error = await expectVmbatchError(() => load(configOf([file, server.url('/gone-a.rdf'), server.url('/gone-b.rdf')])), 'CATALOGUE_UNAVAILABLE');
  assert.is((error.params as { source: string }).source, server.url('/gone-a.rdf'));
});

test.run();
