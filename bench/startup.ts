// bench: how soon vmbatch's commands start, next to `node -e 0`: the checkout's dist/ (tsc's ES
// modules), the package's bundle (scripts/bundle.mjs, into a temp dir) compiling from source
// (VMBATCH_CODE_CACHE=off) and with its code cache (filled by `vmbatch code-cache`, as the
// postinst does). The variants alternate within each round (this machine is shared and noisy),
// and figures are medians. Prints figures and ratios; asserts nothing.
// Targets (issue 16), for the package: a prologue that loads its modules and refuses bad
// arguments <= 100 ms above `node -e 0`; `vmbatch validate` of a template <= 40 ms above it.
// For reference: a light command (`images policy`) alone and 16 at once (16 cold `images fetch`
// <= 1.2x one is bench/images.ts's target; their start-ups are what this shows).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { median, ms, printSummary, type SummaryRow } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 9);
const concurrency = 16;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const distMain = join(repo, 'dist', 'src', 'cli', 'main.js');
const template = join(repo, 'domains', 'testguest.xml');

/** One way of running a command: the entry file and the environment. */
interface Variant {
  name: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

// One process to its exit (its output discarded: only its start-up and work are timed).
function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return ms(
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, argv, { env, stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', () => resolve());
      }),
  );
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'vmbatch-bench-startup-'));
  // the cache's directories must be root's and closed to others' writes (mkdtemp's 0700 is)
  chmodSync(tmp, 0o755);
  const bundle = join(tmp, 'bundle');
  const cache = join(tmp, 'code');
  try {
    await execa(process.execPath, [join(repo, 'scripts', 'bundle.mjs'), bundle], { cwd: repo });
    const config = join(tmp, 'vmbatch.json');
    writeFileSync(config, JSON.stringify({ stateDir: join(tmp, 'state'), logFile: '', images: { userImagePolicy: join(tmp, 'no-policy.json') } }));
    const base = { ...process.env, VMBATCH_CONFIG: config };
    const envs = { dist: base, off: { ...base, VMBATCH_CODE_CACHE: 'off' }, cached: { ...base, VMBATCH_CODE_CACHE: cache } };
    const root = process.geteuid?.() === 0;
    if (root) await execa(process.execPath, [join(bundle, 'vmbatch.mjs'), 'code-cache'], { env: envs.cached });
    const entries = (label: string, args: string[]): Variant[] => [
      { name: `${label}, dist/`, argv: [distMain, ...args], env: envs.dist },
      { name: `${label}, bundle, no code cache`, argv: [join(bundle, 'vmbatch.mjs'), ...args], env: envs.off },
      { name: `${label}, bundle, code cache`, argv: [join(bundle, 'vmbatch.mjs'), ...args], env: envs.cached },
    ];
    const variants: Variant[] = [
      { name: 'node -e 0', argv: ['-e', '0'], env: base },
      ...entries('validate testguest.xml', ['validate', template]),
      ...entries('prologue refusing its arguments', ['prologue', 'x']),
      ...entries('images policy', ['images', 'policy']),
    ];
    const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const many = new Map<string, number[]>();
    for (let i = 0; i < runs; i++) {
      for (const v of variants) times.get(v.name)!.push(await run(v.argv, v.env));
      // 16 at once of the light command and of `node -e 0`, alternating with the rest
      for (const v of [variants[0]!, ...variants.filter((x) => x.name.startsWith('images policy'))]) {
        const all = await ms(() => Promise.all(Array.from({ length: concurrency }, () => run(v.argv, v.env))));
        (many.get(v.name) ?? many.set(v.name, []).get(v.name)!).push(all);
      }
    }

    const bare = median(times.get('node -e 0')!);
    console.log(`vmbatch start-up next to node -e 0, median of ${runs} rounds (${cpus().length} CPUs, node ${process.version}${root ? '' : '; not root: no code cache is written or read'})`);
    for (const v of variants) {
      const m = median(times.get(v.name)!);
      console.log(`   ${v.name.padEnd(56)} ${m.toFixed(1).padStart(7)} ms   ${v === variants[0] ? '' : `+${(m - bare).toFixed(1)} ms   ${(m / bare).toFixed(2)}x`}`);
    }
    console.log(`\n${concurrency} processes at once vs one`);
    for (const [name, values] of many) {
      const one = median(times.get(name)!);
      console.log(`   ${name.padEnd(56)} ${median(values).toFixed(0).padStart(7)} ms   ${(median(values) / one).toFixed(2)}x one`);
    }

    const over = (name: string) => median(times.get(name)!) - bare;
    const row = (figure: string, name: string, target: number | undefined): SummaryRow => ({
      figure,
      value: `+${over(name).toFixed(1)} ms`,
      target: target === undefined ? '(reference)' : `<= +${target} ms`,
      met: target === undefined ? undefined : over(name) <= target,
    });
    const policyMany = many.get('images policy, bundle, code cache')!;
    printSummary('summary (above node -e 0; the package ships the bundle with its code cache)', [
      row('prologue refusing its arguments, package', 'prologue refusing its arguments, bundle, code cache', 100),
      row('  the same, bundle compiled from source', 'prologue refusing its arguments, bundle, no code cache', undefined),
      row('  the same, dist/', 'prologue refusing its arguments, dist/', undefined),
      row('validate of a template, package', 'validate testguest.xml, bundle, code cache', 40),
      row('  the same, bundle compiled from source', 'validate testguest.xml, bundle, no code cache', undefined),
      row('  the same, dist/', 'validate testguest.xml, dist/', undefined),
      row('images policy, package', 'images policy, bundle, code cache', undefined),
      {
        figure: `${concurrency} images policy at once / 1, package`,
        value: `${(median(policyMany) / median(times.get('images policy, bundle, code cache')!)).toFixed(2)}x`,
        target: '(reference)',
        met: undefined,
      },
      { figure: `${concurrency} node -e 0 at once / 1`, value: `${(median(many.get('node -e 0')!) / bare).toFixed(2)}x`, target: '(reference)', met: undefined },
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
