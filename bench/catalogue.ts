// bench: loading a large software catalogue next to the bare XML parser on the same text.
// Prints figures and ratios; asserts nothing. The catalogue is generated (bench/generate-catalogue.ts)
// into a temp file under /tmp and read from there.
// Target: readCatalogue <= 0.5 s for 10,000 MetaPackages (BENCH_CATALOGUE_N changes n).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { SaxesParser } from 'saxes';
import { readCatalogue } from '../src/catalogue/read-catalogue.js';
import type { Catalogue } from '../src/catalogue/catalogue-model.js';
import { generateCatalogue } from './generate-catalogue.js';
import { median, ms } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const n = Number(process.env.BENCH_CATALOGUE_N ?? 10_000);
const targetMs = 500;
const MiB = 1 << 20;

// a collection before each heap reading, without asking for node --expose-gc
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Summary {
  figure: string;
  value: string;
  target: string;
  met: boolean | undefined;
}
const summary: Summary[] = [];

/** The floor under any reader: saxes with namespaces on, counting start tags and nothing else. */
function countElements(text: string): number {
  const parser = new SaxesParser({ xmlns: true, position: true });
  let count = 0;
  parser.on('opentag', () => void count++);
  parser.write(text).close();
  return count;
}

/** Times `step` once to warm up, then `runs` times; the median in ms. */
async function timed(step: () => unknown): Promise<{ median: number; all: number[] }> {
  step();
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    all.push(await ms(async () => step()));
  }
  return { median: median(all), all };
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
    gc();
    const before = process.memoryUsage().heapUsed;
    catalogue = readCatalogue(text, file);
    gc();
    const after = process.memoryUsage().heapUsed;
    const loaded = catalogue;

    console.log(`\n1. loading a generated catalogue of ${n} MetaPackages, median of ${runs} runs after one warm-up`);
    console.log(`   file: ${(size / MiB).toFixed(2)} MiB, ${elements} elements, ${loaded.metaPackages.length} MetaPackages, ${loaded.instances.length} instances, ${loaded.baseSystems.length} base systems, ${loaded.tags.length} tags, ${loaded.warnings.length} warnings`);
    console.log(`   (generating it took ${generateMs.toFixed(0)} ms, reading the file ${readMs.toFixed(1)} ms)`);
    const row = (name: string, t: { median: number; all: number[] }, note = '') =>
      console.log(`   ${name.padEnd(48)} ${t.median.toFixed(1).padStart(8)} ms   ${(size / MiB / (t.median / 1000)).toFixed(1).padStart(6)} MiB/s   runs ${t.all.map((v) => v.toFixed(0)).join(' ')}${note}`);
    row('saxes alone (xmlns, positions; counts elements)', saxes);
    row('readCatalogue (parse, RDF/XML, model, zod)', reader, `   ${(reader.median / saxes.median).toFixed(2)}x saxes`);
    console.log(`   heap used: ${(after / MiB).toFixed(1)} MiB with the catalogue loaded, ${((after - before) / MiB).toFixed(1)} MiB of it the catalogue (${((after - before) / loaded.metaPackages.length).toFixed(0)} bytes per MetaPackage)`);

    // ---- resolver timing (to be added: resolveRequest on `loaded`) -------------------------------

    summary.push({ figure: `readCatalogue, ${n} MetaPackages`, value: `${reader.median.toFixed(0)} ms`, target: `<= ${targetMs} ms`, met: reader.median <= targetMs });
    summary.push({ figure: 'readCatalogue / saxes alone', value: `${(reader.median / saxes.median).toFixed(2)}x (${saxes.median.toFixed(0)} ms saxes)`, target: '(reference)', met: undefined });
    summary.push({ figure: 'heap kept by the loaded catalogue', value: `${((after - before) / MiB).toFixed(1)} MiB`, target: '(reference)', met: undefined });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\nsummary');
  const w = Math.max(...summary.map((r) => r.figure.length));
  const wv = Math.max(...summary.map((r) => r.value.length));
  const wt = Math.max(...summary.map((r) => r.target.length));
  console.log(`   ${'figure'.padEnd(w)}  ${'measured'.padEnd(wv)}  ${'target'.padEnd(wt)}  verdict`);
  for (const r of summary) console.log(`   ${r.figure.padEnd(w)}  ${r.value.padEnd(wv)}  ${r.target.padEnd(wt)}  ${r.met === undefined ? '-' : r.met ? 'met' : 'NOT met'}`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
