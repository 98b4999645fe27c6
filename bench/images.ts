// bench: image downloads and per-job disks next to the bare tools doing the same. Prints figures
// and ratios; asserts nothing. Everything runs on 127.0.0.1 in a temp dir under /var/tmp.
// Targets:
//   1. hashing while downloading: fetchImage's throughput >= 0.9x that of sha256sum on the
//      same (page-cached) file, and the image's bytes are read once (from the socket), never
//      read back from the file;
//   2. a job's overlay on a cached base costs the same for a 20 GiB and a 1 GiB base (within 10%);
//   3. 16 jobs fetching one uncached image at once: exactly 1 GET reaches the server, and the
//      wall time is <= 1.2x that of a single cold fetch.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createCowOverlay } from '../src/images/disk-formats.js';
import { fetchImage, type FetchResult } from '../src/images/fetch-image.js';
import type { HashSpec } from '../src/images/hash-spec.js';
import { imageInfo } from '../src/images/image-info.js';
import { median, ms, printSummary, type SummaryRow } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const overlayRuns = Number(process.env.BENCH_OVERLAY_RUNS ?? 31);
const concurrency = 16;
const MiB = 1 << 20;
const bigBytes = 1024 * MiB;
const smallBytes = 256 * MiB;
// the vmbatch section 3 runs: the checkout's dist/, or BENCH_VMBATCH_MAIN (a bundle's vmbatch.mjs, as the package runs it)
const cli = process.env.BENCH_VMBATCH_MAIN || fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const mibps = (bytes: number, millis: number) => bytes / MiB / (millis / 1000);

// The server runs in a child process, so it does not share the event loop with the fetch it
// serves. It serves the files of its directory with Content-Length and counts GETs per URL.
const serverScript = `
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
const root = process.argv[2];
const counts = {};
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const path = new URL(url, 'http://127.0.0.1').pathname;
  if (path === '/__counts') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
  if (req.method === 'GET') counts[url] = (counts[url] ?? 0) + 1;
  if (path.includes('..') || path.lastIndexOf('/') !== 0) return void res.writeHead(404).end();
  let size;
  try { size = statSync(join(root, path)).size; } catch { return void res.writeHead(404).end(); }
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(join(root, path), { highWaterMark: 4 << 20 }).pipe(res);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

interface Server {
  url(path: string): string;
  gets(url: string): Promise<number>;
  stop(): void;
}

async function startServer(dir: string): Promise<Server> {
  const script = join(dir, 'server.mjs');
  writeFileSync(script, serverScript);
  const child = spawn(process.execPath, [script, join(dir, 'www')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('exit', (code) => reject(new Error(`the bench's HTTP server exited (${code})`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    url: (path) => base + path,
    gets: async (url) => {
      const counts = (await (await fetch(`${base}/__counts`)).json()) as Record<string, number>;
      return counts[url.slice(base.length)] ?? 0;
    },
    stop: () => void child.kill(),
  };
}

/** Writes `bytes` random bytes to `file`; returns its sha256 and md5. */
function writeRandomFile(file: string, bytes: number): { sha256: string; md5: string } {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const chunk = Buffer.allocUnsafe(64 * MiB);
  const fd = openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      randomFillSync(piece);
      sha.update(piece);
      md5.update(piece);
      writeSync(fd, piece);
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** rchar (bytes read by any read syscall, sockets included) and read_bytes (from storage) of this process. */
function processIo(): { rchar: number; readBytes: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { rchar: field('rchar'), readBytes: field('read_bytes') };
}

const summary: SummaryRow[] = [];

// ---- 1. hashing while downloading ---------------------------------------------------------------
async function benchDownload(tmp: string, server: Server): Promise<void> {
  const image = join(tmp, 'www', 'big.raw');
  const digests = writeRandomFile(image, bigBytes);
  const target = join(tmp, 'fetched.raw');
  const tools = ['sha256sum', 'md5sum', 'fetchImage sha256', 'fetchImage md5', 'curl + sha256sum', 'curl alone', 'curl to /dev/null', 'dd conv=fsync'] as const;
  type Tool = (typeof tools)[number];
  const t = Object.fromEntries(tools.map((k) => [k, [] as number[]])) as Record<Tool, number[]>;
  const reads: { rchar: number; readBytes: number }[] = [];
  // the previous step's dirty pages are written back before the next step is timed
  const settle = async () => {
    rmSync(target, { force: true });
    await execa('sync');
  };
  const fetchOnce = async (hash: HashSpec, run: number, tag: string): Promise<number> => {
    await settle();
    let result: FetchResult | undefined;
    const before = processIo();
    const took = await ms(async () => {
      result = await fetchImage({
        source: { url: server.url(`/big.raw?${tag}=${run}`), hash, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined },
        file: target,
        stallTimeoutMs: 30_000,
        maxRedirects: 0,
      });
    });
    const after = processIo();
    if (hash.algorithm === 'sha256') reads.push({ rchar: after.rchar - before.rchar, readBytes: after.readBytes - before.readBytes });
    if (result?.bytes !== bigBytes || result.digest.value !== hash.value) throw new Error(`fetchImage gave ${JSON.stringify(result)}`);
    rmSync(target, { force: true });
    return took;
  };
  await execa('cat', [image], { stdout: 'ignore' }); // into the page cache
  for (let i = 0; i < runs; i++) {
    t.sha256sum.push(await ms(() => execa('sha256sum', [image])));
    t.md5sum.push(await ms(() => execa('md5sum', [image])));
    t['fetchImage sha256'].push(await fetchOnce({ algorithm: 'sha256', value: digests.sha256 }, i, 'sha256'));
    t['fetchImage md5'].push(await fetchOnce({ algorithm: 'md5', value: digests.md5 }, i, 'md5'));
    // what the transport and the disk alone cost: the floors under any download into a file
    t['curl to /dev/null'].push(await ms(() => execa('curl', ['-s', '-f', '-o', '/dev/null', server.url(`/big.raw?null=${i}`)])));
    await settle();
    t['dd conv=fsync'].push(await ms(() => execa('dd', [`if=${image}`, `of=${target}`, 'bs=4M', 'conv=fsync', 'status=none'])));
    await settle();
    const curl = await ms(() => execa('curl', ['-s', '-f', '-o', target, server.url(`/big.raw?curl=${i}`)]));
    const hashed = await ms(async () => {
      const out = (await execa('sha256sum', [target])).stdout;
      if (!out.startsWith(digests.sha256)) throw new Error(`curl's copy has another digest: ${out}`);
    });
    t['curl alone'].push(curl);
    t['curl + sha256sum'].push(curl + hashed);
    rmSync(target, { force: true });
  }
  rmSync(image, { force: true });

  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<Tool, number>;
  console.log(`\n1. hashing while downloading a 1 GiB image from 127.0.0.1 (child-process HTTP server), median of ${runs} runs`);
  console.log(`   ${'tool'.padEnd(40)} ${'time'.padStart(10)} ${'MiB/s'.padStart(9)}`);
  const row = (name: string, v: number, note = '') => console.log(`   ${name.padEnd(40)} ${v.toFixed(0).padStart(7)} ms ${mibps(bigBytes, v).toFixed(0).padStart(9)}${note}`);
  row('sha256sum FILE (page-cached)', m.sha256sum);
  row('md5sum FILE (page-cached)', m.md5sum);
  row('fetchImage, sha256 (download+hash+fsync)', m['fetchImage sha256'], `   ${(mibps(bigBytes, m['fetchImage sha256']) / mibps(bigBytes, m.sha256sum)).toFixed(2)}x sha256sum`);
  row('fetchImage, md5 (download+hash+fsync)', m['fetchImage md5'], `   ${(mibps(bigBytes, m['fetchImage md5']) / mibps(bigBytes, m.md5sum)).toFixed(2)}x md5sum`);
  row('curl -s -o FILE URL (no hash, no fsync)', m['curl alone']);
  row('curl -s -o FILE URL + sha256sum FILE', m['curl + sha256sum'], `   fetchImage sha256 is ${(m['curl + sha256sum'] / m['fetchImage sha256']).toFixed(2)}x as fast`);
  console.log('   floors (no hashing):');
  row('curl -s -o /dev/null URL (loopback only)', m['curl to /dev/null']);
  row(
    'dd FILE -> /var/tmp, bs=4M conv=fsync',
    m['dd conv=fsync'],
    `   fetchImage sha256 at ${(mibps(bigBytes, m['fetchImage sha256']) / mibps(bigBytes, m['dd conv=fsync'])).toFixed(2)}x the disk's write+fsync`,
  );
  const rchar = median(reads.map((r) => r.rchar));
  const readBytes = median(reads.map((r) => r.readBytes));
  console.log(`   bytes this process read during fetchImage sha256 (/proc/self/io): rchar ${(rchar / MiB).toFixed(1)} MiB = ${(rchar / bigBytes).toFixed(3)}x the image`);
  console.log(`     (socket reads; a second pass over the file would make it ~2x), read_bytes from storage ${(readBytes / MiB).toFixed(1)} MiB;`);
  console.log(`     the digest is updated in the stream's Transform, the written file is never opened for reading`);
  const ratio = mibps(bigBytes, m['fetchImage sha256']) / mibps(bigBytes, m.sha256sum);
  summary.push({
    figure: 'fetchImage sha256 throughput / sha256sum',
    value: `${ratio.toFixed(2)}x (${mibps(bigBytes, m['fetchImage sha256']).toFixed(0)} vs ${mibps(bigBytes, m.sha256sum).toFixed(0)} MiB/s)`,
    target: '>= 0.90x',
    met: ratio >= 0.9,
  });
  summary.push({ figure: 'fetchImage sha256 / (curl + sha256sum), speed', value: `${(m['curl + sha256sum'] / m['fetchImage sha256']).toFixed(2)}x`, target: '(reference)', met: undefined });
  summary.push({ figure: 'fetchImage sha256 / dd conv=fsync, speed', value: `${(m['dd conv=fsync'] / m['fetchImage sha256']).toFixed(2)}x`, target: '(reference)', met: undefined });
  summary.push({ figure: 'bytes read by fetchImage / image size', value: `${(rchar / bigBytes).toFixed(3)}x`, target: '~1x (one pass)', met: rchar < 1.1 * bigBytes });
}

// ---- 2. per-job overlay on a cached base ---------------------------------------------------------
async function benchOverlay(tmp: string): Promise<void> {
  const sizes = [
    { label: '1 GiB', arg: '1G' },
    { label: '20 GiB', arg: '20G' },
  ];
  const results: Record<string, { vmbatch: number[]; bare: number[] }> = {};
  const bases: Record<string, { file: string; virtualSize: number }> = {};
  for (const s of sizes) {
    const file = join(tmp, `base-${s.arg}.raw`);
    await execa('truncate', ['-s', s.arg, file]);
    // what the cache's record holds, found once when the entry was made
    bases[s.label] = { file, virtualSize: (await imageInfo(file, 'raw')).virtualSize };
    results[s.label] = { vmbatch: [], bare: [] };
  }
  const overlay = join(tmp, 'overlay.qcow2');
  // run 0 warms qemu-img's binary and libraries into the page cache and is not counted;
  // the sizes take turns going first
  for (let i = 0; i <= overlayRuns; i++) {
    for (const s of i % 2 ? [...sizes].reverse() : sizes) {
      const base = bases[s.label]!;
      rmSync(overlay, { force: true });
      const vmbatch = await ms(() => createCowOverlay({ cow: 'qcow2', base: base.file, baseFormat: 'raw', virtualSize: base.virtualSize, file: overlay }));
      rmSync(overlay, { force: true });
      const bare = await ms(() => execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base.file, overlay]));
      if (i === 0) continue;
      results[s.label]!.vmbatch.push(vmbatch);
      results[s.label]!.bare.push(bare);
    }
  }
  rmSync(overlay, { force: true });
  for (const s of sizes) rmSync(bases[s.label]!.file, { force: true });

  const v1 = median(results['1 GiB']!.vmbatch);
  const v20 = median(results['20 GiB']!.vmbatch);
  const b1 = median(results['1 GiB']!.bare);
  const b20 = median(results['20 GiB']!.bare);
  console.log(`\n2. per-job qcow2 overlay on a cached sparse raw base, median of ${overlayRuns} runs`);
  console.log(`   ${''.padEnd(52)} ${'1 GiB base'.padStart(11)} ${'20 GiB base'.padStart(12)} ${'20/1'.padStart(7)}`);
  const row = (name: string, a: number, b: number) => console.log(`   ${name.padEnd(52)} ${a.toFixed(1).padStart(8)} ms ${b.toFixed(1).padStart(9)} ms ${(b / a).toFixed(2).padStart(6)}x`);
  row('createCowOverlay (virtual size from the record)', v1, v20);
  row('qemu-img create -f qcow2 -F raw -b BASE (opens base)', b1, b20);
  console.log(`   createCowOverlay / bare qemu-img: ${(v1 / b1).toFixed(2)}x (1 GiB), ${(v20 / b20).toFixed(2)}x (20 GiB)`);
  summary.push({
    figure: 'createCowOverlay 20 GiB / 1 GiB base',
    value: `${(v20 / v1).toFixed(2)}x (${v1.toFixed(1)} / ${v20.toFixed(1)} ms)`,
    target: '0.90x .. 1.10x',
    met: Math.abs(v20 / v1 - 1) <= 0.1,
  });
  summary.push({ figure: 'bare qemu-img create 20 GiB / 1 GiB base', value: `${(b20 / b1).toFixed(2)}x (${b1.toFixed(1)} / ${b20.toFixed(1)} ms)`, target: '(reference)', met: undefined });
}

// ---- 3. 16 concurrent cold fetches vs one --------------------------------------------------------
async function benchConcurrentFetch(tmp: string, server: Server): Promise<void> {
  const image = join(tmp, 'www', 'small.raw');
  const { sha256 } = writeRandomFile(image, smallBytes);
  await execa('cat', [image], { stdout: 'ignore' });

  // one `vmbatch images fetch` per process, started together; resolves when all have exited
  const fetchAll = async (count: number, url: string, root: string): Promise<number> => {
    const state = join(root, 'state');
    mkdirSync(state, { recursive: true });
    const config = join(root, 'vmbatch.json');
    writeFileSync(config, JSON.stringify({ stateDir: state, logFile: join(root, 'log') }));
    const env = { ...process.env, VMBATCH_CONFIG: config };
    const started = performance.now();
    const procs = Array.from({ length: count }, () => execa(process.execPath, [cli, 'images', 'fetch', url, '--hash', `sha256:${sha256}`, '--format', 'raw'], { env, reject: false }));
    const done = await Promise.all(procs);
    const took = performance.now() - started;
    const failed = done.filter((r) => r.exitCode !== 0);
    if (failed.length) throw new Error(`${failed.length} of ${count} 'images fetch' failed: ${failed[0]!.stderr}`);
    return took;
  };

  const single: number[] = [];
  const many: number[] = [];
  // the same again once the entry is cached: what each process does besides the download
  const warmSingle: number[] = [];
  const warmMany: number[] = [];
  const gets: number[] = [];
  for (let i = 0; i < runs; i++) {
    const one = join(tmp, `one-${i}`);
    single.push(await fetchAll(1, server.url(`/small.raw?one=${i}`), one));
    warmSingle.push(await fetchAll(1, server.url(`/small.raw?one=${i}`), one));
    rmSync(one, { recursive: true, force: true });
    const sixteen = join(tmp, `many-${i}`);
    const url = server.url(`/small.raw?many=${i}`);
    many.push(await fetchAll(concurrency, url, sixteen));
    gets.push(await server.gets(url));
    warmMany.push(await fetchAll(concurrency, url, sixteen));
    rmSync(sixteen, { recursive: true, force: true });
  }
  // node start-up and loading the CLI, which every process pays before it asks for the lock
  const startupConfig = join(tmp, 'startup.json');
  writeFileSync(startupConfig, JSON.stringify({ stateDir: join(tmp, 'startup-state'), logFile: '', images: { userImagePolicy: join(tmp, 'no-policy.json') } }));
  const policy = () => execa(process.execPath, [cli, 'images', 'policy'], { env: { ...process.env, VMBATCH_CONFIG: startupConfig } });
  const startup: number[] = [];
  const startupMany: number[] = [];
  for (let i = 0; i < runs; i++) {
    startup.push(await ms(policy));
    startupMany.push(await ms(() => Promise.all(Array.from({ length: concurrency }, policy))));
  }
  rmSync(image, { force: true });

  const s = median(single);
  const m = median(many);
  console.log(`\n3. cold 'vmbatch images fetch' of a 256 MiB image into an empty cache, median of ${runs} runs (${(await execa('nproc')).stdout} CPUs)`);
  console.log(`   1 process:   ${s.toFixed(0).padStart(6)} ms   (${mibps(smallBytes, s).toFixed(0)} MiB/s end to end, incl. node start-up, qemu-img info, fsync)`);
  console.log(`   ${concurrency} processes: ${m.toFixed(0).padStart(6)} ms   ratio ${(m / s).toFixed(2)}x   GET requests the server saw per run: ${gets.join(', ')}`);
  console.log(`   node start-up + loading the images command alone ('vmbatch images policy'): 1 process ${median(startup).toFixed(0)} ms, ${concurrency} at once ${median(startupMany).toFixed(0)} ms`);
  console.log(`   the same with the entry already cached (no download): 1 process ${median(warmSingle).toFixed(0)} ms, ${concurrency} at once ${median(warmMany).toFixed(0)} ms`);
  console.log(`   ${concurrency} processes less that start-up floor: ${(m - median(startupMany)).toFixed(0)} ms vs 1 process less its start-up: ${(s - median(startup)).toFixed(0)} ms`);
  const maxGets = Math.max(...gets);
  summary.push({ figure: `GETs for ${concurrency} concurrent cold fetches`, value: gets.join(', '), target: 'exactly 1', met: gets.every((g) => g === 1) && maxGets === 1 });
  summary.push({ figure: `${concurrency} concurrent / 1 cold fetch, wall`, value: `${(m / s).toFixed(2)}x (${m.toFixed(0)} / ${s.toFixed(0)} ms)`, target: '<= 1.20x', met: m / s <= 1.2 });
  summary.push({
    figure: `  the same less node start-up (${concurrency} at once / 1)`,
    value: `${((m - median(startupMany)) / (s - median(startup))).toFixed(2)}x`,
    target: '(reference)',
    met: undefined,
  });
}

async function main(): Promise<void> {
  const fs = statfsSync('/var/tmp');
  const free = fs.bavail * fs.bsize;
  if (free < 2.5 * 1024 * MiB) throw new Error(`the bench needs 2.5 GiB free in /var/tmp, it has ${(free / 1024 / MiB).toFixed(1)} GiB`);
  const tmp = mkdtempSync('/var/tmp/vmbatch-bench-images-');
  mkdirSync(join(tmp, 'www'));
  let server: Server | undefined;
  const started = performance.now();
  try {
    server = await startServer(tmp);
    await benchDownload(tmp, server);
    await benchOverlay(tmp);
    await benchConcurrentFetch(tmp, server);
  } finally {
    server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  printSummary(`summary (${((performance.now() - started) / 1000).toFixed(0)} s in all)`, summary);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
