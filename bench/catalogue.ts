// bench: loading a large software catalogue next to the bare XML parser on the same text.
// Prints figures and ratios; asserts nothing. The catalogue is generated (bench/generate-catalogue.ts)
// into a temp file under /tmp and read from there.
// Target: readCatalogue <= 0.5 s for 10,000 MetaPackages (BENCH_CATALOGUE_N changes n).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { SaxesParser } from 'saxes';
import { readCatalogue } from '../src/catalogue/read-catalogue.js';
import { indexCatalogues } from '../src/catalogue/catalogue-index.js';
import { resolveRequest, type ResolveContext } from '../src/catalogue/resolve-request.js';
import type { Catalogue } from '../src/catalogue/catalogue-model.js';
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
    console.log(`   file: ${(size / MiB).toFixed(2)} MiB, ${elements} elements, ${loaded.metaPackages.length} MetaPackages, ${loaded.instances.length} instances, ${loaded.baseSystems.length} base systems, ${loaded.tags.length} tags, ${loaded.warnings.length} warnings`);
    console.log(`   (generating it took ${generateMs.toFixed(0)} ms, reading the file ${readMs.toFixed(1)} ms)`);
    const row = (name: string, t: Timing, note = '') =>
      console.log(
        `   ${name.padEnd(48)} ${t.median.toFixed(1).padStart(8)} ms   ${(size / MiB / (t.median / 1000)).toFixed(1).padStart(6)} MiB/s   gc ${t.gc.toFixed(0)} ms   first ${t.first.toFixed(0)}, runs ${t.all.map((v) => v.toFixed(0)).join(' ')}${note}`,
      );
    row('saxes alone (xmlns, positions; counts elements)', saxes);
    row('readCatalogue (parse, RDF/XML, model, zod)', reader, `   ${(reader.median / saxes.median).toFixed(2)}x saxes`);
    console.log(`   (first: the warm-up call, JIT still cold, as in a hook process that reads the catalogue once)`);
    console.log(`   heap used: ${(after / MiB).toFixed(1)} MiB with the catalogue loaded, ${((after - before) / MiB).toFixed(1)} MiB of it the catalogue (${((after - before) / loaded.metaPackages.length).toFixed(0)} bytes per MetaPackage)`);

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
      console.log(`   ${`resolveRequest: ${label}`.padEnd(62)} ${t.median.toFixed(2).padStart(8)} ms   ${outcome === 'resolved' ? `${packages} packages in the closure` : outcome}   first ${t.first.toFixed(1)}`);
    }
    summary.push({ figure: 'resolveRequest, slowest request (median)', value: `${worst.toFixed(2)} ms`, target: '<= 50 ms', met: worst <= 50 });
    summary.push({ figure: 'indexCatalogues', value: `${indexing.median.toFixed(1)} ms`, target: '(reference)', met: undefined });

    const load = reader.median + indexing.median;
    summary.push({ figure: `load: readCatalogue + indexCatalogues, ${n} MetaPackages`, value: `${load.toFixed(0)} ms`, target: `<= ${targetMs} ms`, met: load <= targetMs });
    summary.push({ figure: 'readCatalogue, first call (JIT cold)', value: `${reader.first.toFixed(0)} ms`, target: '(reference)', met: undefined });
    summary.push({ figure: 'readCatalogue / saxes alone', value: `${(reader.median / saxes.median).toFixed(2)}x (${saxes.median.toFixed(0)} ms saxes)`, target: '(reference)', met: undefined });
    summary.push({ figure: 'heap kept by the loaded catalogue', value: `${((after - before) / MiB).toFixed(1)} MiB`, target: '(reference)', met: undefined });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  printSummary('summary', summary);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
