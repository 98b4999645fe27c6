// Bundles vmbatch for the package: OUTDIR/vmbatch.mjs (the command line's dispatcher) and one
// self-contained file per command module it imports (OUTDIR/hooks-prologue.mjs, ...), with the
// files the code reads beside them (guest/, host/, torque-hooks/, slurm/).
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
  format: 'esm',
  // Debian 12's own nodejs is 18
  target: 'node18',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { VMBATCH_BUNDLED: 'true' },
  // ssh2's optional native parts: it falls back to JavaScript without them
  external: ['cpu-features', '*.node'],
  // the CommonJS dependencies (ssh2, xml2js) call require() and read __dirname
  banner: {
    js: [
      "import { createRequire as __vbRequire } from 'node:module';",
      "import { fileURLToPath as __vbPath } from 'node:url';",
      'const require = __vbRequire(import.meta.url);',
      'const __filename = __vbPath(import.meta.url);',
      "const __dirname = __vbPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// the dispatcher: each command import becomes a sibling file, loaded only when that command runs
const siblings = {
  name: 'vmbatch-command-files',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import' || args.importer !== main) return undefined;
      return { path: `./${outName(resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')))}.mjs`, external: true };
    });
  },
};
await build({ ...common, entryPoints: [main], outfile: join(out, 'vmbatch.mjs'), plugins: [siblings] });
await build({ ...common, entryPoints: Object.fromEntries(commands.map((c) => [outName(c), c])), outdir: out, outExtension: { '.js': '.mjs' } });

cpSync('src/context/guest', join(out, 'guest'), { recursive: true });
for (const f of ['prolog.sh', 'epilog.sh', 'rte-install.sh']) chmodSync(join(out, 'guest', f), 0o755);
cpSync('src/share/host', join(out, 'host'), { recursive: true });
chmodSync(join(out, 'host', 'virtiofsd-launch.pl'), 0o755);
cpSync('torque-hooks', join(out, 'torque-hooks'), { recursive: true });
mkdirSync(join(out, 'slurm'));
for (const f of ['slurm-hook', 'slurm-task']) cpSync(join('slurm', f), join(out, 'slurm', f));
console.log(`bundled ${commands.length + 1} files into ${out}`);
