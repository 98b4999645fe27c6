import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { codeCacheDir, codeCacheEntry, readCodeCache, writeCodeCache } from '../../src/install/code-cache.js';
import { loadCommandFile } from '../../src/install/command-loader.js';
import { warmCodeCache } from '../../src/install/warm-code-cache.js';

const root = process.geteuid?.() === 0;
const loader = new URL('../../src/install/command-loader.js', import.meta.url).href;
const source = "const { basename } = require('node:path'); exports.name = basename(__filename); exports.dir = __dirname; exports.answer = () => 42;\n";

let dir: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-loader-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'cmd.cjs'), source);
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

// Loads dir/cmd.cjs in a process of its own (the cache is written at its exit) and says what it exported.
async function loadInChild(cacheDir: string): Promise<string> {
  const script = `import(${JSON.stringify(loader)}).then(({ loadCommandFile }) => { const m = loadCommandFile(${JSON.stringify(join(dir, 'cmd.cjs'))}, '/x', ${JSON.stringify(cacheDir)}); process.stdout.write(\`\${m.name} \${m.answer()}\`); })`;
  return (await execa(process.execPath, ['-e', script])).stdout;
}

test('a command file is loaded as require() would: its exports, __filename, __dirname and require', () => {
  const m = loadCommandFile(join(dir, 'cmd.cjs'), '/usr/lib/vmbatch/vmbatch.mjs', undefined);
  assert.is(m.name, 'cmd.cjs');
  assert.is(m.dir, dir);
  assert.is((m.answer as () => number)(), 42);
});

test('a missing command file fails as a missing ES module does: ERR_MODULE_NOT_FOUND naming the importer', () => {
  const missing = join(dir, 'hooks-prologue.cjs');
  const error = (() => {
    try {
      loadCommandFile(missing, '/usr/lib/vmbatch/vmbatch.mjs', undefined);
    } catch (e) {
      return e as NodeJS.ErrnoException;
    }
    return undefined;
  })();
  assert.is(error?.code, 'ERR_MODULE_NOT_FOUND');
  assert.is(error?.message, `Cannot find module '${missing}' imported from /usr/lib/vmbatch/vmbatch.mjs`);
});

test("the cache's place: /var/cache/vmbatch/code unless VMBATCH_CODE_CACHE names another (absolute) one or 'off'", () => {
  assert.is(codeCacheDir({}), '/var/cache/vmbatch/code');
  assert.is(codeCacheDir({ VMBATCH_CODE_CACHE: '/srv/c' }), '/srv/c');
  assert.is(codeCacheDir({ VMBATCH_CODE_CACHE: 'off' }), undefined);
  assert.is(codeCacheDir({ VMBATCH_CODE_CACHE: 'relative' }), undefined);
});

test("an entry's key changes with the file's content, not only its length (V8's own check)", () => {
  const a = codeCacheEntry('/c', '/usr/lib/vmbatch/hooks-prologue.cjs', 'exports.a = 1;');
  const b = codeCacheEntry('/c', '/usr/lib/vmbatch/hooks-prologue.cjs', 'exports.b = 1;');
  assert.match(a, /^\/c\/hooks-prologue\.cjs\.[0-9a-f]{32}\.v8$/);
  assert.is.not(a, b);
});

if (!root) {
  test('another user than root writes no cache', () => {
    const cache = join(dir, 'cache');
    writeCodeCache(join(cache, 'x.cjs.k.v8'), Buffer.from('code'));
    assert.throws(() => statSync(cache));
  });
} else {
  test("root: the first run stores the compiled code (0644, root's), the next use it; the file's older entries are removed", async () => {
    const cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o755 });
    writeFileSync(join(cache, 'cmd.cjs.0123.v8'), 'stale');
    assert.is(await loadInChild(cache), 'cmd.cjs 42');
    const entries = readdirSync(cache);
    assert.equal(entries, [codeCacheEntry(cache, join(dir, 'cmd.cjs'), source).slice(cache.length + 1)]);
    const st = statSync(join(cache, entries[0]!));
    assert.is(st.mode & 0o7777, 0o644);
    assert.is(st.uid, 0);
    assert.ok(readCodeCache(join(cache, entries[0]!)));
    assert.is(await loadInChild(cache), 'cmd.cjs 42');
  });

  test("root: the postinst's warming compiles every command file; V8 accepts the entries (a hook does not replace them)", async () => {
    const cache = join(dir, 'cache');
    writeFileSync(join(dir, 'other.cjs'), 'exports.x = 1;\n');
    assert.equal(warmCodeCache(dir, cache), ['cmd.cjs', 'other.cjs']);
    const entry = codeCacheEntry(cache, join(dir, 'cmd.cjs'), source);
    const warmed = readFileSync(entry);
    assert.is(await loadInChild(cache), 'cmd.cjs 42');
    assert.ok(readFileSync(entry).equals(warmed));
  });

  test('root: an entry V8 rejects is ignored silently and replaced', async () => {
    const cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o755 });
    const entry = codeCacheEntry(cache, join(dir, 'cmd.cjs'), source);
    writeFileSync(entry, 'not V8 code at all', { mode: 0o644 });
    assert.is(await loadInChild(cache), 'cmd.cjs 42');
    assert.ok(statSync(entry).size > 100);
  });

  test("root: an entry is not used when it, its directory or one above is writable by others, not root's, or a link", () => {
    const cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o755 });
    const entry = join(cache, 'cmd.cjs.k.v8');
    writeFileSync(entry, 'code', { mode: 0o644 });
    assert.equal(readCodeCache(entry), Buffer.from('code'));
    chmodSync(entry, 0o664);
    assert.is(readCodeCache(entry), undefined);
    chmodSync(entry, 0o644);
    chownSync(entry, 1, 0);
    assert.is(readCodeCache(entry), undefined);
    chownSync(entry, 0, 0);
    chmodSync(cache, 0o775);
    assert.is(readCodeCache(entry), undefined);
    chmodSync(cache, 0o755);
    chmodSync(dir, 0o777);
    assert.is(readCodeCache(entry), undefined);
    chmodSync(dir, 0o755);
    symlinkSync(entry, join(cache, 'link.v8'));
    assert.is(readCodeCache(join(cache, 'link.v8')), undefined);
    symlinkSync(cache, join(dir, 'linked-cache'));
    assert.is(readCodeCache(join(dir, 'linked-cache', 'cmd.cjs.k.v8')), undefined);
    // nor written through a directory others may write
    chmodSync(cache, 0o777);
    writeCodeCache(join(cache, 'other.cjs.k.v8'), Buffer.from('code'));
    assert.throws(() => statSync(join(cache, 'other.cjs.k.v8')));
  });
}

test.run();
