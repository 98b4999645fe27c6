import { dirname } from 'node:path';
import { codeCacheDir } from '../install/code-cache.js';
import { vmbatchMain } from '../install/installed-paths.js';
import { warmCodeCache } from '../install/warm-code-cache.js';

/** `vmbatch code-cache`: root compiles the package's command files into the code cache (the package's postinst runs it). */
export function codeCacheCommand(argv: string[]): number {
  if (argv.length) {
    process.stderr.write('usage: vmbatch code-cache\n');
    return 1;
  }
  const cacheDir = codeCacheDir();
  // the checkout's dist/ is ES modules, which Node 20 compiles with no cache: nothing to do
  if (!vmbatchMain.endsWith('.mjs') || cacheDir === undefined) {
    process.stdout.write('vmbatch code-cache: nothing to do (not the bundled package, or VMBATCH_CODE_CACHE=off)\n');
    return 0;
  }
  if (process.geteuid?.() !== 0) {
    process.stderr.write('vmbatch code-cache: only root writes the code cache\n');
    return 1;
  }
  const files = warmCodeCache(dirname(vmbatchMain), cacheDir);
  process.stdout.write(`vmbatch code-cache: ${files.length} command files compiled into ${cacheDir}\n`);
  return 0;
}
