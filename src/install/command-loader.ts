import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { codeCacheDir, codeCacheEntry, readCodeCache, writeCodeCache } from './code-cache.js';

// Node 20 keeps no compiled code for ES modules (module.enableCompileCache is Node 22), and
// compiling a hook's bundle is most of its start-up: the package's command files are CommonJS,
// compiled here through vm.Script with V8's code cache (code-cache.ts says who may write it).

/** Loads a bundled command file (CommonJS) as Node would require it, with compiled code from `cacheDir` (undefined: none) when trusted; root stores it there at exit when there was none. A missing file fails as a missing ES module would (ERR_MODULE_NOT_FOUND, naming `importer`). */
export function loadCommandFile(file: string, importer: string, cacheDir: string | undefined): Record<string, unknown> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw Object.assign(new Error(`Cannot find module '${file}' imported from ${importer}`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  const entry = cacheDir === undefined ? undefined : codeCacheEntry(cacheDir, file, source);
  const cachedData = entry === undefined ? undefined : readCodeCache(entry);
  const script = compileCommandFile(file, source, cachedData);
  // a rejected entry (another V8's) is compiled from source, silently, and replaced by root
  if (entry !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
    // at exit, the code V8 compiled for this run is in the cache too, not only the top level
    process.once('exit', () => writeCodeCache(entry, script.createCachedData()));
  }
  const module = { exports: {} as Record<string, unknown> };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** Compiles a command file's source (not run yet), with compiled code from a cache entry if given. */
export function compileCommandFile(file: string, source: string, cachedData?: Buffer): vm.Script {
  // Node's own CommonJS wrapper, so the file sees what require() would give it
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, ...(cachedData ? { cachedData } : {}) });
}

/** Loads the command file `name` that lies beside the bundle's dispatcher (the file this code is bundled into). */
export function loadBundledCommand(name: string): Record<string, unknown> {
  const dispatcher = fileURLToPath(import.meta.url);
  return loadCommandFile(join(dirname(dispatcher), name), dispatcher, codeCacheDir());
}
