import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { listCache, pruneCache, verifyCache, type CacheListing } from '../images/cache-admin.js';
import { jobRefOf } from '../images/cache-users.js';
import { ensureCachedImage } from '../images/ensure-cached.js';
import { formatHash, parseHashText } from '../images/hash-spec.js';
import { resolveTemplateSource } from '../images/image-source.js';
import { createProgressBar } from '../images/progress-bar.js';
import { releaseCacheUses } from '../images/release-uses.js';
import { loadUserImagePolicy } from '../images/user-image-policy.js';
import { qemuFormatOf } from '../images/disk-formats.js';
import { createLogger } from '../log/logger.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { imagesUsage } from './images-usage.js';

/** `vmbatch images SUBCOMMAND`: the site admin's view of the image cache. */
export async function imagesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // help needs no configuration: it works on a node not set up yet
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`usage:\n${imagesUsage}`);
    return 0;
  }
  try {
    const config = loadConfig();
    const cacheDir = cacheDirOf(config);
    switch (sub) {
      case 'list':
        return list(cacheDir, rest);
      case 'fetch':
        return await fetch(config, cacheDir, rest);
      case 'verify':
        return await verify(cacheDir, config.stateDir, rest);
      case 'prune':
        return await prune(cacheDir, config.stateDir, rest);
      case 'policy': {
        const policy = loadUserImagePolicy(config.images.userImagePolicy);
        process.stdout.write(policy ? JSON.stringify(policy, null, 2) + '\n' : `no user image policy (${config.images.userImagePolicy}): vbuserimage is refused\n`);
        return 0;
      }
      default:
        process.stderr.write(`vmbatch: unknown images command '${sub ?? ''}'\nusage:\n${imagesUsage}`);
        return 1;
    }
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

function list(cacheDir: string, argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } } });
  const listings = listCache(cacheDir);
  if (values.json) {
    process.stdout.write(JSON.stringify(listings.map(describe), null, 2) + '\n');
    return 0;
  }
  const rows = listings.map((l) => {
    const d = describe(l);
    return [l.paths.key.slice(0, 12), d.state, formatBytes(l.diskBytes), d.lastUsed?.slice(0, 19).replace('T', ' ') ?? '-', String(l.users.length), d.source];
  });
  printTable(['KEY', 'STATE', 'SIZE', 'LAST USED', 'JOBS', 'SOURCE'], rows);
  process.stdout.write(`${listings.length} entr${listings.length === 1 ? 'y' : 'ies'}, ${formatBytes(listings.reduce((s, l) => s + l.diskBytes, 0))} in ${cacheDir}\n`);
  return 0;
}

async function fetch(config: ReturnType<typeof loadConfig>, cacheDir: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { hash: { type: 'string' }, format: { type: 'string', default: 'raw' } } });
  const [source] = positionals;
  if (!source) throw new VmbatchError('USAGE_INVALID', { problems: ['images fetch needs a SOURCE (a URL or a path relative to images.siteBase)'] });
  const hash = values.hash === undefined ? undefined : parseHashText(values.hash);
  if (values.hash !== undefined && !hash) throw new VmbatchError('USAGE_INVALID', { problems: [`--hash '${values.hash}' is not ALGO:HEX (md5, sha1, sha256, sha512)`] });
  const url = resolveTemplateSource(source, config.images.siteBase);
  const bar = process.stderr.isTTY ? createProgressBar(process.stderr) : undefined;
  const log = createLogger(config.logFile, 'images');
  // the fetch is a job of its own for the cache's use records, released at the end; on a fresh
  // node (an admin pre-fetching before the first job) the state directory does not exist yet
  ensureDir(config.stateDir, 0o755);
  ensureDir(cacheDir, 0o755);
  const scratch = mkdtempSync(join(config.stateDir, 'fetch-'));
  const jobRef = jobRefOf(`fetch-${process.pid}`);
  const usesFile = join(scratch, 'uses');
  try {
    const cached = await ensureCachedImage(
      {
        cacheDir,
        jobRef,
        deadline: Date.now() + 24 * 3600 * 1000,
        stallTimeoutMs: config.images.stallTimeoutSeconds * 1000,
        maxRedirects: config.images.maxRedirects,
        caFile: config.images.caFile,
        createOnceWaitMs: 0,
        maxVirtualBytes: config.images.maxVirtualSizeMiB * 1048576,
        usesFile,
        log,
        onProgress: bar && ((label, got, total) => bar.update(label, got, total)),
      },
      { url, hash, origin: 'template', maxBytes: undefined, allowedPrefixes: undefined },
      qemuFormatOf(values.format),
    );
    bar?.finish();
    process.stdout.write(`${url}: cached as ${cached.paths.data} (${cached.meta.bytes} bytes, ${cached.meta.digests.map(formatHash).join(', ')})\n`);
    return 0;
  } finally {
    await releaseCacheUses(usesFile, jobRef, log);
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function verify(cacheDir: string, stateDir: string, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { delete: { type: 'boolean', default: false } } });
  const results = await verifyCache(cacheDir);
  for (const r of results) process.stdout.write(`${r.listing.paths.key.slice(0, 12)}  ${r.verdict.padEnd(10)}  ${describe(r.listing).source}: ${r.detail}\n`);
  const corrupt = results.filter((r) => r.verdict === 'corrupt');
  if (values.delete && corrupt.length) {
    const removed = await pruneCache(cacheDir, { olderThanMs: undefined, maxBytes: undefined, also: new Set(corrupt.map((r) => r.listing.paths.dir)), dryRun: false, stateDir });
    process.stdout.write(`removed ${removed.filter((a) => a.reason === 'corrupt').length} corrupt entr${corrupt.length === 1 ? 'y' : 'ies'} (entries in use are kept)\n`);
  }
  process.stdout.write(`${results.filter((r) => r.verdict === 'ok').length} ok, ${corrupt.length} corrupt\n`);
  return corrupt.length ? 1 : 0;
}

async function prune(cacheDir: string, stateDir: string, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'older-than': { type: 'string' }, 'max-size': { type: 'string' }, 'dry-run': { type: 'boolean', default: false } } });
  const olderThanMs = values['older-than'] === undefined ? undefined : parseAmount(values['older-than'], { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }, '--older-than', '30d');
  const maxBytes = values['max-size'] === undefined ? undefined : parseAmount(values['max-size'], { B: 1, K: 1024, M: 1048576, G: 1073741824, T: 1099511627776 }, '--max-size', '200G');
  const actions = await pruneCache(cacheDir, { olderThanMs, maxBytes, dryRun: values['dry-run'] ?? false, stateDir });
  for (const a of actions)
    process.stdout.write(`${values['dry-run'] ? 'would remove' : 'removed'} ${a.listing.paths.key.slice(0, 12)} ${formatBytes(a.listing.diskBytes)} ${describe(a.listing).source} (${a.reason})\n`);
  process.stdout.write(
    `${actions.length} entr${actions.length === 1 ? 'y' : 'ies'}, ${formatBytes(actions.reduce((s, a) => s + a.listing.diskBytes, 0))} ${values['dry-run'] ? 'would be ' : ''}freed\n`,
  );
  return 0;
}

function describe(l: CacheListing) {
  return {
    key: l.paths.key,
    kind: l.kind,
    state: !l.meta ? 'incomplete' : l.seeding ? 'seeding' : l.meta.sealed ? 'sealed' : 'complete',
    source: l.meta?.identity ?? '-',
    bytes: l.meta?.bytes,
    diskBytes: l.diskBytes,
    format: l.meta?.format,
    digests: l.meta?.digests.map(formatHash),
    lastUsed: l.lastUsed?.toISOString(),
    users: l.users,
    dir: l.paths.dir,
  };
}

function parseAmount(text: string, units: Record<string, number>, flag: string, example: string): number {
  const m = /^(\d+(?:\.\d+)?)([A-Za-z]?)$/.exec(text);
  const unit = m?.[2] ? (units[m[2]] ?? units[m[2].toUpperCase()]) : Object.values(units)[0];
  if (!m || unit === undefined) throw new VmbatchError('USAGE_INVALID', { problems: [`${flag} '${text}' is not an amount like ${example} (units: ${Object.keys(units).join(', ')})`] });
  return Number(m[1]) * unit;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n');
}
