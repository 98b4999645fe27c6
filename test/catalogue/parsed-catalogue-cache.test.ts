import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { loadCatalogues } from '../../src/catalogue/load-catalogues.js';
import { loadParsedCatalogue, parsedEntryPaths, parsedFormat, pruneOthers } from '../../src/catalogue/parsed-catalogue-cache.js';
import { readCatalogue } from '../../src/catalogue/read-catalogue.js';
import type { Catalogue } from '../../src/catalogue/catalogue-model.js';
import { configSchema } from '../../src/config/schema.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { generateCatalogue } from '../../bench/generate-catalogue.js';

const repoRoot = process.cwd();
const hostile = 31339;
const seed = (name: string) => readFileSync(join(repoRoot, 'test/fixtures/catalogues', name), 'utf8');
const small = (base: string) =>
  '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">' + `<kb:BaseSystem rdf:about="#b" kb:name="${base}"/></rdf:RDF>\n`;

let root: string;
let n = 0;
let cacheDir: string;
let file: string;
const { log, lines } = recordingLogger();

test.before(() => {
  root = mkdtempSync(join(tmpdir(), 'vmbatch-parsed-'));
});
test.after(() => rmSync(root, { recursive: true, force: true }));
test.before.each(() => {
  const dir = join(root, `t-${n++}`);
  mkdirSync(dir);
  cacheDir = join(dir, 'cache');
  file = join(dir, 'site.rdf');
  lines.length = 0;
});

/** The prologue's way in: loadCatalogues over one local source. */
const load = () => loadCatalogues(configSchema.parse({ stateDir: join(root, 'state'), images: { cacheDir }, catalogue: { sources: [file] } }), { deadline: Date.now() + 30_000, log });
/** The log lines without their timing (ms varies). */
const logged = () => lines.map((l) => (typeof l.fields?.ms === 'number' ? { ...l, fields: { ...l.fields, ms: 'ms' } } : l));
const loadedLine = (parse: 'cached' | 'parsed', metaPackages = 0) => ({ level: 'info', msg: 'catalogue loaded', fields: { source: file, from: 'file', parse, ms: 'ms', metaPackages } });
const entryOf = (text: string) => parsedEntryPaths(cacheDir, file, text);
const ignored = (reason: string, text: string) => ({
  level: 'warn',
  msg: `the kept parse of the catalogue ${file} is ignored: ${reason}; the catalogue is parsed again`,
  fields: { source: file, entry: entryOf(text).file },
});
/** A source whose parse is kept: its entry, with the log cleared. */
async function keptEntry(): Promise<string> {
  writeFileSync(file, small('Debian-12'));
  await load();
  lines.length = 0;
  return entryOf(small('Debian-12')).file;
}
/** The next load ignores the kept parse for `reason` and parses the source. */
async function expectIgnored(reason: string): Promise<void> {
  lines.length = 0;
  await load();
  assert.equal(logged(), [ignored(reason, small('Debian-12')), loadedLine('parsed')]);
}
/** A parser that counts its calls: proves a load did not parse. */
function spy(): { parse: (text: string, source: string) => Catalogue; calls: () => number } {
  let calls = 0;
  return { parse: (text, source) => (calls++, readCatalogue(text, source)), calls: () => calls };
}
/** The model as JSON keeps it: properties that are undefined are absent. */
const plain = (c: Catalogue): unknown => JSON.parse(JSON.stringify(c));

test('a second load reads the kept parse: the parser is not called and the log says parse=cached', async () => {
  writeFileSync(file, seed('gridfactory-seed.rdf'));
  const first = await load();
  const second = await load();
  assert.equal(logged(), [loadedLine('parsed', first[0]!.metaPackages.length), loadedLine('cached', first[0]!.metaPackages.length)]);
  assert.equal(plain(second[0]!), plain(first[0]!));
  const counter = spy();
  const again = loadParsedCatalogue(seed('gridfactory-seed.rdf'), file, { cacheDir, log, parse: counter.parse });
  assert.equal([again.cached, counter.calls()], [true, 0]);
  // the entry: root's, 0644, in 0755 directories, named by the text's sha256 and the format
  const paths = entryOf(seed('gridfactory-seed.rdf'));
  assert.is(paths.file.endsWith(`/parsed-catalogues/${paths.dir.split('/').at(-1)}/${paths.sha256}.${parsedFormat}.json`), true);
  assert.equal([lstatSync(paths.file).mode & 0o7777, lstatSync(paths.dir).mode & 0o7777, lstatSync(dirname(paths.dir)).mode & 0o7777], [0o644, 0o755, 0o755]);
});

test('the model survives the JSON round trip: plain data only, equal to a fresh parse', () => {
  for (const text of [seed('gridfactory-seed.rdf'), seed('janitor-seed.rdf'), generateCatalogue(300)]) {
    const fresh = readCatalogue(text, file);
    // no Map, Set, Date, class instance or non-finite number that JSON would change
    const walk = (v: unknown, at: string): void => {
      if (v === undefined || v === null || typeof v === 'string' || typeof v === 'boolean') return;
      if (typeof v === 'number') return assert.ok(Number.isFinite(v), `${at} is not finite`);
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
      assert.is(Object.getPrototypeOf(v), Object.prototype, `${at} is not a plain object`);
      for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
    };
    walk(fresh, 'catalogue');
    loadParsedCatalogue(text, file, { cacheDir, log });
    const kept = loadParsedCatalogue(text, file, { cacheDir, log });
    assert.is(kept.cached, true);
    assert.equal(kept.catalogue, plain(fresh));
    assert.is(JSON.stringify(kept.catalogue), JSON.stringify(fresh));
  }
  assert.equal(lines, []);
});

test("a changed source is parsed again and its parse replaces the old text's", async () => {
  writeFileSync(file, small('Old-1'));
  await load();
  writeFileSync(file, small('New-2'));
  const catalogues = await load();
  assert.equal(
    catalogues[0]!.baseSystems.map((b) => b.name),
    ['New-2'],
  );
  assert.equal(logged(), [loadedLine('parsed'), loadedLine('parsed')]);
  assert.equal(readdirSync(entryOf(small('New-2')).dir), [`${entryOf(small('New-2')).sha256}.${parsedFormat}.json`]);
  await load();
  assert.equal(logged().at(-1), loadedLine('cached'));
});

test('a truncated entry is ignored with a warning, parsed again and rewritten', async () => {
  const entry = await keptEntry();
  writeFileSync(entry, readFileSync(entry, 'utf8').slice(0, 100));
  await expectIgnored(`${entry} is damaged (not JSON)`);
  const catalogues = await load();
  assert.equal(
    catalogues[0]!.baseSystems.map((b) => b.name),
    ['Debian-12'],
  );
  assert.equal(logged().at(-1), loadedLine('cached'), 'rewritten whole');
});

test('an entry of the wrong shape (valid JSON) is ignored, parsed again and rewritten', async () => {
  const entry = await keptEntry();
  const record = JSON.parse(readFileSync(entry, 'utf8')) as { source: string; catalogue: { baseSystems: { name: unknown }[] } };
  record.catalogue.baseSystems[0]!.name = 12;
  writeFileSync(entry, JSON.stringify(record));
  await expectIgnored(`${entry} is damaged (not a parsed catalogue of this text)`);
  // an entry of this text but another source (or format) is no parse of this one either
  record.catalogue.baseSystems[0]!.name = 'Debian-12';
  record.source = '/elsewhere.rdf';
  writeFileSync(entry, JSON.stringify(record));
  await expectIgnored(`${entry} is damaged (not a parsed catalogue of this text)`);
  await load();
  assert.equal(logged().at(-1), loadedLine('cached'));
});

test("an entry a local user owns, or may write, is ignored (and replaced by root's)", async () => {
  const entry = await keptEntry();
  chownSync(entry, hostile, hostile);
  await expectIgnored(`${entry} is owned by uid 31339, not by root`);
  assert.is(lstatSync(entry).uid, 0, 'the parse made again replaces it');
  chmodSync(entry, 0o666);
  await expectIgnored(`${entry} is writable by its group or others (mode 0666)`);
  assert.is(lstatSync(entry).mode & 0o777, 0o644);
});

test('a directory a local user owns or may write: nothing is read from it and nothing written to it', async () => {
  await keptEntry();
  const paths = entryOf(small('Debian-12'));
  const parsed = dirname(paths.dir);
  chownSync(paths.dir, hostile, hostile);
  await load();
  const notKept = (reason: string) => ({ level: 'warn', msg: `the parse of the catalogue ${file} is not kept: ${reason}`, fields: { source: file, entry: paths.file } });
  assert.equal(logged(), [ignored(`${paths.dir} is owned by uid 31339, not by root`, small('Debian-12')), notKept(`${paths.dir} is owned by uid 31339, not by root`), loadedLine('parsed')]);
  chownSync(paths.dir, 0, 0);
  chmodSync(parsed, 0o777);
  lines.length = 0;
  await load();
  assert.equal(logged(), [
    ignored(`${parsed} is writable by its group or others (mode 0777)`, small('Debian-12')),
    notKept(`${parsed} is writable by its group or others (mode 0777)`),
    loadedLine('parsed'),
  ]);
  chmodSync(parsed, 0o755);
  lines.length = 0;
  await load();
  assert.equal(logged(), [loadedLine('cached')]);
});

test('a symbolic link in place of the entry or of its directory is not followed', async () => {
  await keptEntry();
  const paths = entryOf(small('Debian-12'));
  // a sound, root-owned parse elsewhere: only the link is wrong
  const elsewhere = join(dirname(cacheDir), 'elsewhere.json');
  renameSync(paths.file, elsewhere);
  symlinkSync(elsewhere, paths.file);
  await expectIgnored(`${paths.file} is a symbolic link`);
  assert.is(lstatSync(paths.file).isFile(), true, 'the link is replaced by a file');
  const realDir = join(dirname(cacheDir), 'real-dir');
  renameSync(paths.dir, realDir);
  symlinkSync(realDir, paths.dir);
  lines.length = 0;
  await load();
  assert.equal(logged().slice(0, 1), [ignored(`${paths.dir} is a symbolic link`, small('Debian-12'))]);
  assert.equal(logged().at(-1), loadedLine('parsed'));
});

test("a fresh download's check is the parse kept: the next load reads it", () => {
  const counter = spy();
  const parsed = readCatalogue(small('Debian-12'), file);
  assert.is(loadParsedCatalogue(small('Debian-12'), file, { cacheDir, log, parse: counter.parse, parsed }).catalogue, parsed);
  assert.equal([loadParsedCatalogue(small('Debian-12'), file, { cacheDir, log, parse: counter.parse }).cached, counter.calls()], [true, 0]);
});

test('a cache the system refuses is a warning; the job still gets its catalogue', () => {
  // a file where the cache's root should be: nothing can be kept below it
  writeFileSync(join(dirname(cacheDir), 'cache'), 'not a directory');
  const loaded = loadParsedCatalogue(small('Debian-12'), file, { cacheDir, log });
  assert.equal(
    loaded.catalogue.baseSystems.map((b) => b.name),
    ['Debian-12'],
  );
  assert.equal(
    lines.map((l) => l.level),
    ['warn', 'warn'],
  );
  assert.is(lines[0]!.msg, `the kept parse of the catalogue ${file} is ignored: ${cacheDir} is not a directory; the catalogue is parsed again`);
  assert.ok(lines[1]!.msg.startsWith(`the parse of the catalogue ${file} is not kept: `), lines[1]!.msg);
});

test("old texts' parses and dead writers' temp files are pruned, live writers' are not; pruning again is harmless", () => {
  const paths = entryOf(small('Now'));
  mkdirSync(paths.dir, { recursive: true, mode: 0o755 });
  const other = (c: string) => join(paths.dir, `${c.repeat(64)}.${parsedFormat}.json`);
  writeFileSync(other('a'), '{}');
  writeFileSync(other('b'), '{}');
  const oldFormat = join(paths.dir, `${paths.sha256}.v0-000000000000.json`);
  writeFileSync(oldFormat, '{}');
  const deadTemp = join(paths.dir, `.${'c'.repeat(64)}.${parsedFormat}.json.tmp.999999.0`);
  const liveTemp = join(paths.dir, `.${'d'.repeat(64)}.${parsedFormat}.json.tmp.999998.0`);
  writeFileSync(deadTemp, '{');
  writeFileSync(liveTemp, '{');
  utimesSync(deadTemp, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
  writeFileSync(join(paths.dir, 'README'), 'not ours');
  loadParsedCatalogue(small('Now'), file, { cacheDir, log });
  const left = () => readdirSync(paths.dir).sort();
  const expected = [liveTemp.split('/').at(-1), 'README', paths.file.split('/').at(-1)].sort();
  assert.equal(left(), expected);
  pruneOthers(paths);
  pruneOthers(paths);
  assert.equal(left(), expected);
});

test('concurrent loads in separate processes both succeed and leave one whole entry', async () => {
  const text = generateCatalogue(2000);
  writeFileSync(file, text);
  const moduleUrl = new URL(`file://${join(repoRoot, 'dist/src/catalogue/parsed-catalogue-cache.js')}`).href;
  const script =
    `const { readFileSync } = await import('node:fs'); const { loadParsedCatalogue } = await import(${JSON.stringify(moduleUrl)});` +
    `const warn = []; const log = { info() {}, warn: (m) => warn.push(m), error: (m) => warn.push(m) };` +
    `const r = loadParsedCatalogue(readFileSync(${JSON.stringify(file)}, 'utf8'), ${JSON.stringify(file)}, { cacheDir: ${JSON.stringify(cacheDir)}, log });` +
    `console.log(JSON.stringify({ packages: r.catalogue.metaPackages.length, warn }));`;
  const runs = await Promise.all(Array.from({ length: 4 }, () => execa(process.execPath, ['--input-type=module', '-e', script], { reject: false })));
  const expected = readCatalogue(text, file).metaPackages.length;
  for (const run of runs) {
    assert.is(run.exitCode, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout), { packages: expected, warn: [] });
  }
  const paths = entryOf(text);
  assert.equal(readdirSync(paths.dir), [paths.file.split('/').at(-1)], 'one entry, no temp file');
  assert.is(loadParsedCatalogue(text, file, { cacheDir, log }).cached, true);
  assert.equal(lines, []);
});

test.run();
