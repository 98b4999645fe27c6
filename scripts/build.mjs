// `npm run build`: compiles into dist.next beside the live dist/, then swaps it in with two renames.
// Hooks installed from this checkout (make install-hooks) run dist/ while jobs start: a build that
// first removed dist/ left it missing for the ~40 s tsc takes, and a job starting then was aborted.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const next = 'dist.next';
rmSync(next, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', next], { stdio: 'inherit' });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1);
}
execFileSync(process.execPath, ['scripts/copy-assets.mjs', next], { stdio: 'inherit' });
rmSync('dist.old', { recursive: true, force: true });
if (existsSync('dist')) renameSync('dist', 'dist.old');
renameSync(next, 'dist');
rmSync('dist.old', { recursive: true, force: true });
