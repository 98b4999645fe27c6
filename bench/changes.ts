// bench: saved changes (issue 18). A job writes 100 MiB (random, so incompressible) under its
// home on a 512 MiB guest disk and saves its changes: the epilogue's time against a plain job's,
// and the layer against `qemu-img convert -c -B` of the same overlay (the bare tool). Then
// jobs boot from base + that layer and from the base alone, alternating: prologue start to
// ready, side by side (target: <= 5% slower; the first job from the layer makes root's checked
// copy, the later ones share it). Prints figures and ratios; asserts nothing.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { domainsDir } from '../test/helpers/paths.js';
import { freshWorkdir } from '../test/helpers/share-jobs.js';
import { runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type JobSpec } from '../test/torque/pbs-mom.js';
import { median, ms, printSummary } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const user = await ensureHostUser('vbbench', 41101, 41102);
  const scratch = mkdtempSync('/tmp/vmbatch-bench-changes-');
  chmodSync(scratch, 0o755);
  // a 512 MiB ext4 /home (label vbhome, as the test guest's own disk)
  mkdirSync(join(scratch, 'root'));
  writeFileSync(join(scratch, 'root', 'README'), 'bench disk\n');
  await execa('truncate', ['-s', '512M', join(scratch, 'disk.raw')]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'vbhome', '-d', join(scratch, 'root'), join(scratch, 'disk.raw')]);
  const base = join(scratch, 'disk.qcow2');
  await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(scratch, 'disk.raw'), base]);
  rmSync(join(scratch, 'disk.raw'));
  chmodSync(base, 0o644);
  const template = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8').replace('/var/lib/vmbatch/guest/disk.qcow2', base);
  const mom = await setupMom({ domains: { bigguest: template }, config: { prologueBudgetSeconds: 280 } });
  const home = join(user.home, '.vmbatch');
  rmSync(home, { recursive: true, force: true });
  try {
    // a working directory of its own: $HOME in the guest is then on the guest's disk, not the node's home shared
    const workdir = freshWorkdir(user, 'bench-changes-');
    const job = (id: number, other?: string): JobSpec => ({ jobId: `${id}.bench`, user, workdir, resources: `other=vbdomain=bigguest${other ? `:${other}` : ''}` });
    const write100 = '#!/bin/sh\ndd if=/dev/urandom of="$HOME/data.bin" bs=1M count=100 2>/dev/null\n';
    // the saving job and a plain one doing the same: the epilogue's difference is the save
    const epilogues: Record<'save' | 'plain', number> = { save: 0, plain: 0 };
    let bareMs = 0;
    let bareBytes = 0;
    for (const [kind, id] of [
      ['plain', 980],
      ['save', 981],
    ] as const) {
      const j = job(id, kind === 'save' ? 'vbsavechanges=bench100' : undefined);
      const script = writeJobScript(mom, j, write100);
      if ((await runPrologue(mom, j, script)).exitCode !== 0) throw new Error(`prologue of ${j.jobId} failed`);
      await runJobStarter(mom, j, script);
      if (kind === 'save') {
        // the bare tool on a copy of the same overlay
        const overlay = join(mom.stateDir, 'jobs', j.jobId, 'disk-vda.qcow2');
        copyFileSync(overlay, join(scratch, 'overlay.qcow2'));
        await execa('qemu-img', ['rebase', '-q', '-u', '-b', base, '-F', 'qcow2', join(scratch, 'overlay.qcow2')]);
        bareMs = await ms(() => execa('qemu-img', ['convert', '-q', '-c', '-f', 'qcow2', '-O', 'qcow2', '-B', base, '-F', 'qcow2', join(scratch, 'overlay.qcow2'), join(scratch, 'bare.qcow2')]));
        bareBytes = statSync(join(scratch, 'bare.qcow2')).size;
      }
      epilogues[kind] = await ms(() => runEpilogue(mom, j, script, 0));
    }
    const layerBytes = statSync(join(home, 'changes', 'bench100.qcow2')).size;
    // booting from base + layer against the base alone, alternating
    const ready: Record<'base' | 'changes', number[]> = { base: [], changes: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of ['base', 'changes'] as const) {
        const j = job(990 + i * 2 + (kind === 'changes' ? 1 : 0), kind === 'changes' ? 'vbchanges=bench100' : undefined);
        const script = writeJobScript(mom, j, '#!/bin/sh\ntrue\n');
        let exit = -1;
        ready[kind].push(await ms(async () => (exit = (await runPrologue(mom, j, script)).exitCode)));
        if (exit !== 0) throw new Error(`prologue of ${j.jobId} failed`);
        await runEpilogue(mom, j, script, 0);
      }
    }
    const f = (v: number) => `${v.toFixed(0).padStart(6)} ms`;
    // the prologue's own phases (its ready log line): loading the layer runs beside the context's build
    const log = readFileSync(mom.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('msg="ready"'));
    const phase = (name: string, id: number) => Number(new RegExp(`\\b${name}=([0-9.]+)`).exec(log.find((l) => l.includes(`job=${id}.bench `)) ?? '')?.[1] ?? NaN);
    const changeIds = Array.from({ length: runs }, (_, i) => 990 + i * 2 + 1);
    console.log(`saved changes: a job that wrote 100 MiB (random) on a 512 MiB guest disk (test guest, qemu:///system, TCG)`);
    console.log(`epilogue: saving ${f(epilogues.save)}   plain ${f(epilogues.plain)}   the save itself ~${f(epilogues.save - epilogues.plain)}`);
    console.log(`bare qemu-img convert -c -B of the same overlay ${f(bareMs)}; layer ${mib(layerBytes)} (bare ${mib(bareBytes)}, ${(layerBytes / bareBytes).toFixed(2)}x)`);
    console.log(`prologue start to ready, median of ${runs}: base ${f(median(ready.base))}   base + changes ${f(median(ready.changes))}   ${(median(ready.changes) / median(ready.base)).toFixed(2)}x`);
    console.log(`  the first job from the layer makes the copy its submitter's later jobs share: ${f(ready.changes[0]!)} to ready, loading ${f(phase('changes', changeIds[0]!))}`);
    // every phase of the prologue, median of each kind: where a difference lies
    const baseIds = changeIds.map((id) => id - 1);
    const phases = [...new Set(log.flatMap((l) => [...l.matchAll(/\b([a-z]+)=([0-9.]+)(?= |$)/g)].map((m) => m[1]!)))].filter((p) => !['job', 'maxRssKiB', 'pid'].includes(p));
    const row = (ids: number[]) => phases.map((p) => `${p} ${median(ids.map((id) => phase(p, id))).toFixed(0)}`).join('  ');
    console.log(`  phases (ms), base:    ${row(baseIds)}\n  phases (ms), changes: ${row(changeIds)}`);
    console.log(`  every run (ms): base ${ready.base.map((v) => v.toFixed(0)).join(' ')}   changes ${ready.changes.map((v) => v.toFixed(0)).join(' ')}`);
    console.log(`  of which, median: loading the layer ${f(median(changeIds.map((id) => phase('changes', id))))}   the context, built meanwhile ${f(median(changeIds.map((id) => phase('iso', id))))}`);
    printSummary('summary', [
      {
        figure: 'saving 100 MiB of changes (epilogue, over a plain one)',
        value: `${((epilogues.save - epilogues.plain) / 1000).toFixed(2)} s`,
        target: `bare convert ${(bareMs / 1000).toFixed(2)} s`,
        met: undefined,
      },
      {
        figure: 'booting from base + changes against the base alone',
        value: `${(median(ready.changes) / median(ready.base)).toFixed(2)}x`,
        target: '<= 1.05x',
        met: median(ready.changes) / median(ready.base) <= 1.05,
      },
    ]);
  } finally {
    teardownMom(mom);
    rmSync(home, { recursive: true, force: true });
    for (const dir of readdirSync(user.home).filter((n) => n.startsWith('bench-changes-'))) rmSync(join(user.home, dir), { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
