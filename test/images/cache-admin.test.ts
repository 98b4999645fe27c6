import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, rmSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureCachedImage } from '../../src/images/ensure-cached.js';
import { listCache, pruneCache, verifyCache } from '../../src/images/cache-admin.js';
import { addEntryUser } from '../../src/images/cache-users.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { execa } from 'execa';
import { repoRoot } from '../helpers/paths.js';
import { cacheScratch, runImagesCli, templateSource, type CacheScratch } from '../helpers/image-cache.js';

let server: ImageServer;
let scratch: CacheScratch;
const old = new Date(Date.now() - 40 * 86400_000);

test.before(async () => {
  server = await startImageServer();
  scratch = cacheScratch();
  for (const name of ['old', 'used', 'new', 'corrupt']) {
    server.route(`/${name}.img`, { kind: 'data', data: randomBytes(1048576) });
    const cached = await ensureCachedImage(scratch.ctx(`fill-${name}`), templateSource(server.url(`/${name}.img`)), 'raw');
    // the fill jobs are over: their use records go (a finished job's epilogue does this)
    rmSync(cached.paths.users, { recursive: true });
    if (name !== 'new') utimesSync(cached.paths.lastUsed, old, old);
  }
});
test.after(async () => {
  await server.close();
  rmSync(scratch.root, { recursive: true, force: true });
});

const entry = (name: string) => listCache(scratch.cacheDir).find((l) => l.meta?.identity === server.url(`/${name}.img`))!;

test('list shows every entry with its state, size, last use and users', async () => {
  const run = await runImagesCli(scratch, ['list']);
  assert.is(run.exitCode, 0, run.stderr);
  const lines = run.stdout.split('\n');
  assert.match(lines[0]!, /^KEY {11}STATE {5}SIZE {5}LAST USED {12}JOBS {2}SOURCE$/);
  assert.is(lines.filter((l) => l.includes('complete  1.0 MiB')).length, 4);
  assert.is(lines.at(-1), `4 entries, 4.0 MiB in ${scratch.cacheDir}`);
});

test('verify re-reads each entry and finds the one that changed on disk', async () => {
  appendFileSync(entry('corrupt').paths.data, 'x');
  const results = await verifyCache(scratch.cacheDir);
  assert.equal(results.map((r) => r.verdict).sort(), ['corrupt', 'ok', 'ok', 'ok']);
  const run = await runImagesCli(scratch, ['verify']);
  assert.is(run.exitCode, 1);
  assert.match(run.stdout, /corrupt {5}http:\/\/127\.0\.0\.1:\d+\/corrupt\.img: sha256 is [0-9a-f]{64}, recorded [0-9a-f]{64}\n/);
  assert.match(run.stdout, /\n3 ok, 1 corrupt$/);
});

test('prune by age never removes an entry in use; a stale record of a finished job on this node does not count', async () => {
  addEntryUser(entry('used').paths, `${hostname()}--77.vm`);
  mkdirSync(join(scratch.stateDir, 'jobs', '77.vm'), { recursive: true });
  addEntryUser(entry('old').paths, `${hostname()}--78.vm`); // job 78.vm has no directory: it is over
  utimesSync(entry('used').paths.lastUsed, old, old);
  utimesSync(entry('old').paths.lastUsed, old, old);
  const dry = await runImagesCli(scratch, ['prune', '--older-than', '30d', '--dry-run']);
  assert.is(dry.exitCode, 0, dry.stderr);
  assert.match(dry.stdout, /would remove \S+ 1\.0 MiB http:\/\/127\.0\.0\.1:\d+\/old\.img \(unused for too long\)/);
  assert.ok(existsSync(entry('old').paths.data), 'a dry run removes nothing');
  const run = await runImagesCli(scratch, ['prune', '--older-than', '30d']);
  assert.is(run.exitCode, 0, run.stderr);
  const left = listCache(scratch.cacheDir).map((l) => l.meta?.identity.replace(/^.*\//, ''));
  assert.equal(left.sort(), ['new.img', 'used.img'], 'old and corrupt went; the used one stays');
});

test('prune by size removes the least recently used first, down to the limit', async () => {
  rmSync(join(scratch.stateDir, 'jobs', '77.vm'), { recursive: true });
  const actions = await pruneCache(scratch.cacheDir, { olderThanMs: undefined, maxBytes: 1.5 * 1048576, dryRun: false, stateDir: scratch.stateDir });
  assert.equal(
    actions.map((a) => a.listing.meta?.identity.replace(/^.*\//, '')),
    ['used.img'],
  );
  const bad = await runImagesCli(scratch, ['prune', '--max-size', 'lots']);
  assert.is(bad.exitCode, 1);
  assert.is(
    bad.stderr,
    "vmbatch: USAGE_INVALID: the command line is invalid:\n  - --max-size 'lots' is not an amount like 200G (units: B, K, M, G, T)\n  hint: `vmbatch --help` lists the commands and their options",
  );
});

test('a cache shared by two nodes: a job of the other node keeps its entry from prune', async () => {
  server.route('/shared.img', { kind: 'data', data: randomBytes(1048576) });
  const url = server.url('/shared.img');
  // "node b" is a process in its own UTS namespace: another hostname on the same cache
  const moduleUrl = (m: string) => JSON.stringify(`file://${join(repoRoot, 'dist/src', m)}`);
  const script = `
    const { ensureCachedImage } = await import(${moduleUrl('images/ensure-cached.js')});
    const { createLogger } = await import(${moduleUrl('log/logger.js')});
    const { hostname } = await import('node:os');
    await ensureCachedImage({ cacheDir: ${JSON.stringify(scratch.cacheDir)}, jobRef: hostname() + '--42.b', deadline: Date.now() + 30000,
      stallTimeoutMs: 5000, maxRedirects: 5, createOnceWaitMs: 0, usesFile: ${JSON.stringify(join(scratch.root, 'b.uses'))}, log: createLogger(undefined, 't') },
      { url: ${JSON.stringify(url)}, hash: undefined, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined }, 'raw');`;
  const run = await execa('unshare', ['-u', 'sh', '-c', `hostname nodeb && exec ${process.execPath} --input-type=module -e "$0"`, script], { reject: false });
  assert.is(run.exitCode, 0, run.stderr);
  const shared = entry('shared');
  assert.equal(shared.users, ['nodeb--42.b']);
  utimesSync(shared.paths.lastUsed, old, old);
  await pruneCache(scratch.cacheDir, { olderThanMs: 0, maxBytes: 0, dryRun: false, stateDir: scratch.stateDir });
  assert.ok(existsSync(shared.paths.data), "another node's job is never taken for stale: only that node can tell");
  assert.equal(entry('shared').users, ['nodeb--42.b']);
});

test.run();
