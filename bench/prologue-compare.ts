// bench: this checkout's prologue, remoteshell and epilogue next to an earlier commit's, in one run
// on one machine, alternating so that drift hits both alike. Prints medians before/after and the
// ratio per phase; asserts nothing. Target (issue 12): the hardened prologue is at most 5% slower.
// Usage: node dist/bench/prologue-compare.js BASELINE_CHECKOUT (a built checkout: `make bench-compare BASE=COMMIT`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureHostUser, type HostUser } from '../test/helpers/host-user.js';
import * as current from '../test/torque/pbs-mom.js';
import { median, ms, printSummary } from './measure.js';

type Harness = typeof current;
const runs = Number(process.env.BENCH_RUNS ?? 5);

// One job through one side's hooks: the prologue's phases from its log line, and the whole hooks' times.
async function oneJob(h: Harness, user: HostUser, jobId: string): Promise<Record<string, number>> {
  const mom = await h.setupMom();
  try {
    const job = { jobId, user };
    const script = h.writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
    let pro: Awaited<ReturnType<Harness['runPrologue']>> | undefined;
    const prologue = await ms(async () => (pro = await h.runPrologue(mom, job, script)));
    if (pro?.exitCode !== 0) throw new Error(`prologue of ${jobId} failed: ${pro?.stderr}`);
    let run: Awaited<ReturnType<Harness['runJobStarter']>> | undefined;
    const remoteshell = await ms(async () => (run = await h.runJobStarter(mom, job, script)));
    if (run?.exitCode !== 0) throw new Error(`job ${jobId} failed: ${run?.stderr}`);
    const epilogue = await ms(() => h.runEpilogue(mom, job, script, 0));
    const line =
      readFileSync(mom.logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes(`job=${jobId}`) && l.includes('msg="ready"')) ?? '';
    const phases = Object.fromEntries([...line.matchAll(/ (parse|disks|iso|keys|create|ready)=([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])]));
    return { ...phases, 'prologue (hook process)': prologue, 'prologue without the guest boot': prologue - (phases.ready ?? 0), 'remoteshell (job `true`)': remoteshell, epilogue };
  } finally {
    h.teardownMom(mom);
  }
}

async function main(): Promise<void> {
  const baselineDir = process.argv[2];
  if (!baselineDir) throw new Error('usage: prologue-compare BASELINE_CHECKOUT (a checkout with dist/ built)');
  const baseline = (await import(pathToFileURL(join(baselineDir, 'dist/test/torque/pbs-mom.js')).href)) as Harness;
  const user = await ensureHostUser('vbbench', 41101, 41102);
  const figures: Record<'before' | 'after', Record<string, number[]>> = { before: {}, after: {} };
  for (let i = 0; i < runs; i++) {
    // alternate which side goes first, so a machine getting busier does not favour one
    const order = i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const side of order) {
      const result = await oneJob(side === 'before' ? baseline : current, user, `${950 + i}${side === 'before' ? 0 : 1}.bench`);
      for (const [name, value] of Object.entries(result)) (figures[side][name] ??= []).push(value);
    }
  }
  console.log(`prologue, remoteshell and epilogue: ${baselineDir} (before) against this checkout (after), median of ${runs} alternating runs (test guest, qemu:///system, TCG)`);
  console.log(`${'figure'.padEnd(34)} ${'before'.padStart(10)} ${'after'.padStart(10)}   ratio`);
  for (const name of Object.keys(figures.after)) {
    const b = median(figures.before[name] ?? []);
    const a = median(figures.after[name]!);
    console.log(`${name.padEnd(34)} ${b.toFixed(1).padStart(7)} ms ${a.toFixed(1).padStart(7)} ms   ${(a / b).toFixed(3)}x`);
  }
  const ratio = (name: string) => median(figures.after[name]!) / median(figures.before[name]!);
  printSummary('summary', [
    { figure: 'whole prologue, after / before', value: `${ratio('prologue (hook process)').toFixed(3)}x`, target: '<= 1.05x', met: ratio('prologue (hook process)') <= 1.05 },
    {
      figure: 'prologue without the guest boot, after / before',
      value: `${ratio('prologue without the guest boot').toFixed(3)}x`,
      target: '<= 1.05x',
      met: ratio('prologue without the guest boot') <= 1.05,
    },
    { figure: 'remoteshell, after / before', value: `${ratio('remoteshell (job `true`)').toFixed(3)}x`, target: '-', met: undefined },
  ]);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
