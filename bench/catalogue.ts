// bench: loading a large software catalogue next to the bare XML parser on the same text.
// Prints figures and ratios; asserts nothing. The catalogue is generated (bench/generate-catalogue.ts)
// into a temp file under /tmp and read from there.
// Targets: readCatalogue <= 0.5 s for 10,000 MetaPackages (BENCH_CATALOGUE_N changes n); the kept
// parse (what every job after the first pays) <= 50 ms per job for the same catalogue.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { execa } from 'execa';
import { SaxesParser } from 'saxes';
import { isCatalogueNode, readCatalogue } from '../src/catalogue/read-catalogue.js';
import { loadParsedCatalogue, parsedEntryPaths } from '../src/catalogue/parsed-catalogue-cache.js';
import { indexCatalogues } from '../src/catalogue/catalogue-index.js';
import { resolveRequest, type ResolveContext } from '../src/catalogue/resolve-request.js';
import type { Catalogue } from '../src/catalogue/catalogue-model.js';
import { fetchCatalogueText } from '../src/catalogue/catalogue-source.js';
import { createLogger } from '../src/log/logger.js';
import { generateCatalogue } from './generate-catalogue.js';
import { median, ms, printSummary, type SummaryRow } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const n = Number(process.env.BENCH_CATALOGUE_N ?? 10_000);
const targetMs = 500;
const MiB = 1 << 20;

// a full collection before each heap reading, without asking for node --expose-gc
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// every collection, to tell how much of a step's time the collector took
const collections: PerformanceEntry[] = [];
new PerformanceObserver((list) => void collections.push(...list.getEntries())).observe({ entryTypes: ['gc'] });

/** Milliseconds the collector ran between `from` and `to` (performance.now() times). */
function gcWithin(from: number, to: number): number {
  return collections.filter((e) => e.startTime >= from && e.startTime < to).reduce((sum, e) => sum + e.duration, 0);
}

const summary: SummaryRow[] = [];

/** The floor under any reader: saxes with namespaces on, counting start tags and nothing else. */
function countElements(text: string): number {
  const parser = new SaxesParser({ xmlns: true, position: true });
  let count = 0;
  parser.on('opentag', () => void count++);
  parser.write(text).close();
  return count;
}

/**
 * A full collection, then a pause (V8 still sweeps concurrently right after a forced collection).
 * Only before heap readings: between timed runs forced collections slow the next runs down (they
 * drop type feedback the optimised code relies on), which no hook process ever sees.
 */
async function settle(): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

interface Timing {
  first: number;
  median: number;
  all: number[];
  /** the collector's share of the timed runs (median) */
  gc: number;
}

/** Times `step` once to warm up (the first call, as a fresh hook process makes it), then `runs` times. */
async function timed(step: () => unknown): Promise<Timing> {
  const first = await ms(async () => step());
  const all: number[] = [];
  const windows: [number, number][] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    step();
    windows.push([started, performance.now()]);
    all.push(windows[i]![1] - started);
  }
  // gc entries arrive asynchronously
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { first, median: median(all), all, gc: median(windows.map(([from, to]) => gcWithin(from, to))) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/vmbatch-bench-catalogue-');
  try {
    const file = join(dir, 'catalogue.rdf');
    const generated = performance.now();
    writeFileSync(file, generateCatalogue(n));
    const generateMs = performance.now() - generated;
    const size = statSync(file).size;
    const readMs = await ms(async () => readFileSync(file, 'utf8'));
    const text = readFileSync(file, 'utf8');

    let elements = 0;
    const saxes = await timed(() => (elements = countElements(text)));
    let catalogue: Catalogue | undefined;
    const reader = await timed(() => (catalogue = readCatalogue(text, file)));

    // what a loaded catalogue keeps: the heap with it, less the heap without it
    catalogue = undefined;
    await settle();
    const before = process.memoryUsage().heapUsed;
    catalogue = readCatalogue(text, file);
    await settle();
    const after = process.memoryUsage().heapUsed;
    const loaded = catalogue;

    console.log(`\n1. loading a generated catalogue of ${n} MetaPackages, median of ${runs} runs after one warm-up`);
    console.log(
      `   file: ${(size / MiB).toFixed(2)} MiB, ${elements} elements, ${loaded.metaPackages.length} MetaPackages, ${loaded.instances.length} instances, ${loaded.baseSystems.length} base systems, ${loaded.tags.length} tags, ${loaded.warnings.length} warnings`,
    );
    console.log(`   (generating it took ${generateMs.toFixed(0)} ms, reading the file ${readMs.toFixed(1)} ms)`);
    const row = (name: string, t: Timing, note = '') =>
      console.log(
        `   ${name.padEnd(48)} ${t.median.toFixed(1).padStart(8)} ms   ${(size / MiB / (t.median / 1000)).toFixed(1).padStart(6)} MiB/s   gc ${t.gc.toFixed(0)} ms   first ${t.first.toFixed(0)}, runs ${t.all.map((v) => v.toFixed(0)).join(' ')}${note}`,
      );
    row('saxes alone (xmlns, positions; counts elements)', saxes);
    row('readCatalogue (parse, RDF/XML, model, zod)', reader, `   ${(reader.median / saxes.median).toFixed(2)}x saxes`);
    console.log(`   (first: the warm-up call, JIT still cold, as in a hook process that reads the catalogue once)`);
    console.log(
      `   heap used: ${(after / MiB).toFixed(1)} MiB with the catalogue loaded, ${((after - before) / MiB).toFixed(1)} MiB of it the catalogue (${((after - before) / loaded.metaPackages.length).toFixed(0)} bytes per MetaPackage)`,
    );

    // 2. resolution: a catalogue on one base system (so every closure resolves), indexed once as
    // a prologue does, then requests with small and with the deepest dependency closures
    const single = generateCatalogue(n, { baseSystems: ['Debian-12'] });
    const singleCatalogue = readCatalogue(single, file);
    const indexing = await timed(() => indexCatalogues([singleCatalogue]));
    const index = indexCatalogues([singleCatalogue]);
    const ctx: ResolveContext = {
      templates: [{ name: 'debian', vms: ['VMLinux/Debian-12'], memoryKiB: 8 << 20 }],
      rules: { allowBase: ['*'], denyBase: [], allowRte: ['*'], denyRte: ['APPS/MATH/*'] },
      defaultDomain: 'debian',
    };
    const pkg = (i: number) => `APPS/GEN/PKG-${String(i).padStart(5, '0')}-1.0`;
    // the package whose closure is the largest of the catalogue: the worst single request
    let deepest = 1;
    let deepestSize = 0;
    for (let i = 1; i <= n; i++) {
      const size = resolveRequest(index, { rtes: [pkg(i)] }, ctx).packages.length;
      if (size > deepestSize) [deepest, deepestSize] = [i, size];
    }
    const requests: [string, string[]][] = [
      ['one package with few dependencies', [pkg(20)]],
      [`one package, the largest closure (${pkg(deepest)})`, [pkg(deepest)]],
      ['ten packages of the last hundred', Array.from({ length: 10 }, (_, k) => pkg(n - 10 * k))],
    ];
    console.log(`\n2. resolving requests against the same size of catalogue on one base system (median of ${runs} after one warm-up)`);
    console.log(`   ${'indexCatalogues (once per prologue)'.padEnd(48)} ${indexing.median.toFixed(1).padStart(8)} ms`);
    let worst = 0;
    for (const [label, rtes] of requests) {
      let packages = 0;
      let outcome = 'resolved';
      const t = await timed(() => {
        try {
          packages = resolveRequest(index, { rtes }, ctx).packages.length;
        } catch (error) {
          outcome = (error as { code?: string }).code ?? 'error';
        }
      });
      worst = Math.max(worst, t.median);
      console.log(
        `   ${`resolveRequest: ${label}`.padEnd(62)} ${t.median.toFixed(2).padStart(8)} ms   ${outcome === 'resolved' ? `${packages} packages in the closure` : outcome}   first ${t.first.toFixed(1)}`,
      );
    }
    summary.push({ figure: 'resolveRequest, slowest request (median)', value: `${worst.toFixed(2)} ms`, target: '<= 50 ms', met: worst <= 50 });
    summary.push({ figure: 'indexCatalogues', value: `${indexing.median.toFixed(1)} ms`, target: '(reference)', met: undefined });

    const load = reader.median + indexing.median;
    summary.push({ figure: `load: readCatalogue + indexCatalogues, ${n} MetaPackages`, value: `${load.toFixed(0)} ms`, target: `<= ${targetMs} ms`, met: load <= targetMs });
    summary.push({ figure: 'readCatalogue, first call (JIT cold)', value: `${reader.first.toFixed(0)} ms`, target: '(reference)', met: undefined });
    summary.push({ figure: 'readCatalogue / saxes alone', value: `${(reader.median / saxes.median).toFixed(2)}x (${saxes.median.toFixed(0)} ms saxes)`, target: '(reference)', met: undefined });
    summary.push({ figure: 'heap kept by the loaded catalogue', value: `${((after - before) / MiB).toFixed(1)} MiB`, target: '(reference)', met: undefined });

    benchKept(dir, file, text, saxes, reader);
    await benchKeptFreshProcess(dir, file);

    await benchRefresh(dir, text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  printSummary('summary', summary);
}

/**
 * 1b. The parse kept by digest (parsed-catalogue-cache.ts): what the first job after a change pays
 * (parse and keep) and what every later job pays (hash the text, read the kept JSON, check it),
 * next to the bare XML parser and the full parse.
 */
function benchKept(dir: string, file: string, text: string, saxes: Timing, reader: Timing): void {
  const log = createLogger(undefined, 'bench');
  let fresh = 0;
  // each cold run gets an empty cache: the parse and its write, as the first job after a change
  const cold = timedSync(() => loadParsedCatalogue(text, file, { cacheDir: join(dir, `kept-cold-${fresh++}`), log }));
  const cacheDir = join(dir, 'kept-warm');
  loadParsedCatalogue(text, file, { cacheDir, log });
  let kept: Catalogue | undefined;
  const warm = timedSync(() => {
    const loaded = loadParsedCatalogue(text, file, { cacheDir, log });
    if (!loaded.cached) throw new Error('the warm load parsed the catalogue');
    kept = loaded.catalogue;
  });
  // the parts of a warm load, to tell where its time goes
  const hash = timedSync(() => createHash('sha256').update(text).digest('hex'));
  const entry = parsedEntryPaths(cacheDir, file, text).file;
  const json = timedSync(() => JSON.parse(readFileSync(entry, 'utf8')));
  const check = timedSync(() => kept!.metaPackages.every((m) => isCatalogueNode(m.type, m)) && kept!.instances.every((i) => isCatalogueNode(i.type, i)));
  const bytes = statSync(entry).size;
  const line = (name: string, t: SyncTiming, note = '') =>
    console.log(`   ${name.padEnd(48)} ${t.median.toFixed(1).padStart(8)} ms   first ${t.first.toFixed(0)}, runs ${t.all.map((v) => v.toFixed(0)).join(' ')}${note}`);
  console.log(`\n1b. the parse kept by digest (CACHE/parsed-catalogues/), median of ${runs} after one warm-up; the entry is ${(bytes / MiB).toFixed(2)} MiB of JSON`);
  line('saxes alone (the bare XML parser)', saxes);
  line('cold: readCatalogue, then keep its parse', cold, `   ${(cold.median / saxes.median).toFixed(2)}x saxes`);
  line('warm: the kept parse (hash, read, JSON, check)', warm, `   ${(warm.median / saxes.median).toFixed(2)}x saxes, ${(reader.median / warm.median).toFixed(1)}x less than parsing`);
  line('   of it: sha256 of the text', hash);
  line('   of it: read the entry and JSON.parse', json);
  line('   of it: the compiled check of every node', check);
  summary.push({
    figure: `warm load: the kept parse, ${n} MetaPackages (in process)`,
    value: `${warm.median.toFixed(0)} ms (${(warm.median / saxes.median).toFixed(2)}x saxes)`,
    target: '<= 50 ms',
    met: warm.median <= 50,
  });
  summary.push({ figure: 'cold load: parse and keep', value: `${cold.median.toFixed(0)} ms (${(cold.median / saxes.median).toFixed(2)}x saxes)`, target: '(reference)', met: undefined });
}

/** A step timed as timed() does, for steps that return at once. */
interface SyncTiming {
  first: number;
  median: number;
  all: number[];
}

function timedSync(step: () => unknown): SyncTiming {
  const time = () => {
    const started = performance.now();
    step();
    return performance.now() - started;
  };
  const first = time();
  const all = Array.from({ length: runs }, time);
  return { first, median: median(all), all };
}

/**
 * 1c. The warm load as a job pays it: a fresh node process (as each prologue is) that reads the
 * catalogue's text and its kept parse once. A fresh heap grows while the JSON is parsed, which an
 * in-process median never shows.
 */
async function benchKeptFreshProcess(dir: string, file: string): Promise<void> {
  const cacheDir = join(dir, 'kept-warm');
  const moduleUrl = new URL('../src/catalogue/parsed-catalogue-cache.js', import.meta.url).href;
  const script =
    `const { readFileSync } = await import('node:fs'); const { loadParsedCatalogue } = await import(${JSON.stringify(moduleUrl)});` +
    `const log = { info() {}, warn: (m) => console.error(m), error: (m) => console.error(m) };` +
    `const text = readFileSync(${JSON.stringify(file)}, 'utf8'); const started = performance.now();` +
    `const r = loadParsedCatalogue(text, ${JSON.stringify(file)}, { cacheDir: ${JSON.stringify(cacheDir)}, log });` +
    `console.log(JSON.stringify({ ms: performance.now() - started, cached: r.cached }));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await execa(process.execPath, ['--input-type=module', '-e', script]);
    const result = JSON.parse(stdout) as { ms: number; cached: boolean };
    if (!result.cached) throw new Error('the fresh process parsed the catalogue');
    times.push(result.ms);
  }
  console.log(`\n1c. the warm load in a fresh node process each (as a prologue), ${runs} processes`);
  console.log(`   ${'warm: the kept parse, once per process'.padEnd(48)} ${median(times).toFixed(1).padStart(8)} ms   runs ${times.map((v) => v.toFixed(0)).join(' ')}`);
  summary.push({ figure: 'warm load in a fresh process (per job)', value: `${median(times).toFixed(0)} ms`, target: '<= 50 ms', met: median(times) <= 50 });
}

/**
 * 3. A remote catalogue's refresh (what a prologue pays once the cached copy is older than
 * refreshSeconds), from a loopback server that sends an ETag: a full refresh (download, check
 * that it reads, store) against a conditional one the server answers 304, each next to curl
 * doing the same request.
 */
async function benchRefresh(dir: string, text: string): Promise<void> {
  const body = Buffer.from(text);
  const etag = '"bench-1"';
  const server = createServer((req, res) => {
    if (req.headers['if-none-match'] === etag) res.writeHead(304, { etag }).end();
    else res.writeHead(200, { 'content-length': body.length, etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/catalogue.rdf`;
  try {
    const fetchOptions = (cacheDir: string) => ({ cacheDir, refreshSeconds: 0, stallTimeoutMs: 10_000, maxRedirects: 3, deadline: Date.now() + 60_000, log: createLogger(undefined, 'bench') });
    const full: number[] = [];
    const conditional: number[] = [];
    for (let i = 0; i <= runs; i++) {
      // a cache of its own: nothing to send back, so the whole catalogue comes and is checked
      const fresh = join(dir, `refresh-full-${i}`);
      const t = await ms(() => fetchCatalogueText(url, fetchOptions(fresh)));
      if (i > 0) full.push(t);
    }
    const warm = join(dir, 'refresh-304');
    await fetchCatalogueText(url, fetchOptions(warm));
    for (let i = 0; i <= runs; i++) {
      let from = '';
      const t = await ms(async () => void ({ from } = await fetchCatalogueText(url, fetchOptions(warm))));
      if (from !== 'revalidated') throw new Error(`expected a 304 revalidation, got ${from}`);
      if (i > 0) conditional.push(t);
    }
    // the bare tool's figure includes starting a process, as a prologue's own start does
    const curl = async (args: string[]): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await ms(() => execa('curl', ['-sS', '-o', '/dev/null', ...args, url])));
      return median(times);
    };
    const curlFull = await curl([]);
    const curl304 = await curl(['-H', `If-None-Match: ${etag}`]);
    console.log(`\n3. refreshing the same catalogue from a loopback HTTP server with an ETag (median of ${runs})`);
    console.log(`   ${'full refresh: download, check it reads, store'.padEnd(48)} ${median(full).toFixed(1).padStart(8)} ms   curl alone (GET, 200) ${curlFull.toFixed(1)} ms`);
    console.log(`   ${'conditional refresh answered 304'.padEnd(48)} ${median(conditional).toFixed(1).padStart(8)} ms   curl alone (If-None-Match, 304) ${curl304.toFixed(1)} ms`);
    summary.push({
      figure: 'catalogue refresh, 304 / full refresh',
      value: `${median(conditional).toFixed(1)} / ${median(full).toFixed(0)} ms (${(median(full) / median(conditional)).toFixed(0)}x less)`,
      target: '(reference)',
      met: undefined,
    });
    summary.push({ figure: 'catalogue refresh 304 / curl 304', value: `${(median(conditional) / curl304).toFixed(2)}x`, target: '(reference)', met: undefined });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
