// Bundles vmbatch for the package: OUTDIR/vmbatch.mjs (the command line's dispatcher) and one
// self-contained file per command module it imports (OUTDIR/hooks-prologue.cjs, ...), with the
// files the code reads beside them (guest/, host/, torque-hooks/, slurm/).
// Why CommonJS command files: the dispatcher compiles them through vm.Script with V8's code
// cache (src/install/command-loader.ts), which Node 20 offers for no ES module; compiling a
// hook's bundle was most of its start-up.
// Why one file per command: a hook parses only its own code (start-up is part of every job's
// wait), and a package upgrade replaces each file atomically, so a process never mixes two
// versions' code: the dispatcher imports exactly one command file, which imports nothing of ours.
// usage: node scripts/bundle.mjs OUTDIR
import { build } from 'esbuild';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? 'dist/bundle');
const main = resolve('src/cli/main.ts');
// the modules main.ts imports, as `import('../hooks/prologue.js')`
const commands = [...readFileSync(main, 'utf8').matchAll(/import\('(\.\.?\/[^']+)\.js'\)/g)].map((m) => resolve(dirname(main), `${m[1]}.ts`));
const outName = (file) => relative(resolve('src'), file).replace(/\.ts$/, '').replaceAll('/', '-');

const common = {
  bundle: true,
  platform: 'node',
  // Debian 12's own nodejs is 18
  target: 'node18',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { VMBATCH_BUNDLED: 'true' },
  // ssh2's optional native parts: it falls back to JavaScript without them
  external: ['cpu-features', '*.node'],
};
// the command files are CommonJS: the code's import.meta.url (files beside it) is their own file's
// URL; and strict, as the ES modules they are made of (and the dependencies bundled with them) were
const commandFormat = {
  format: 'cjs',
  define: { ...common.define, 'import.meta.url': '__vbImportMetaUrl' },
  banner: { js: "'use strict'; var __vbImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// the dispatcher: each command import becomes a sibling file, loaded (by loadBundledCommand)
// only when that command runs
const siblings = {
  name: 'vmbatch-command-files',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import' || args.importer !== main) return undefined;
      return { path: `${outName(resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')))}.cjs`, namespace: 'vmbatch-command' };
    });
    b.onLoad({ filter: /.*/, namespace: 'vmbatch-command' }, (args) => ({
      contents: `module.exports = require('./command-loader.ts').loadBundledCommand(${JSON.stringify(args.path)});`,
      resolveDir: resolve('src/install'),
      loader: 'js',
    }));
  },
};
await build({ ...common, format: 'esm', entryPoints: [main], outfile: join(out, 'vmbatch.mjs'), plugins: [siblings] });
await build({ ...common, ...commandFormat, entryPoints: Object.fromEntries(commands.map((c) => [outName(c), c])), outdir: out, outExtension: { '.js': '.cjs' } });

cpSync('src/context/guest', join(out, 'guest'), { recursive: true });
for (const f of ['prolog.sh', 'epilog.sh', 'rte-install.sh']) chmodSync(join(out, 'guest', f), 0o755);
cpSync('src/share/host', join(out, 'host'), { recursive: true });
chmodSync(join(out, 'host', 'virtiofsd-launch.pl'), 0o755);
cpSync('torque-hooks', join(out, 'torque-hooks'), { recursive: true });
mkdirSync(join(out, 'slurm'));
for (const f of ['slurm-hook', 'slurm-task']) cpSync(join('slurm', f), join(out, 'slurm', f));
console.log(`bundled ${commands.length + 1} files into ${out}`);
