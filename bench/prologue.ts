// bench: the prologue's time by phase next to the bare tools doing the same steps, and how soon
// readiness is noticed after the guest signals. Prints figures and ratios; asserts nothing.
// Targets (issue 2): vmbatch's own overhead above the bare tools <= 150 ms median; readiness
// noticed <= 100 ms after the guest signals.
import { appendFileSync, copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { watchConsole } from '../src/readiness/console-watcher.js';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { runEpilogue, runPrologue, setupMom, teardownMom, writeJobScript } from '../test/torque/pbs-mom.js';
import { median, ms } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);

async function main(): Promise<void> {
  const user = await ensureHostUser('vbbench', 41101, 41102);
  const mom = await setupMom();
  const scratch = mkdtempSync('/tmp/vmbatch-bench-');
  chmodSync(scratch, 0o755);
  const phases: Record<string, number[]> = {};
  const bare: Record<string, number[]> = { disks: [], iso: [], create: [] };
  const noticeLag: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const job = { jobId: `${900 + i}.bench`, user };
      const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
      const total = await ms(() => runPrologue(mom, job, script));
      const dir = join(mom.stateDir, 'jobs', job.jobId);
      const line =
        readFileSync(mom.logFile, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l.includes(`job=${job.jobId}`) && l.includes('msg="ready"'))
          .pop() ?? '';
      for (const m of line.matchAll(/ (parse|disks|iso|keys|create|ready)=([\d.]+)/g)) (phases[m[1]!] ??= []).push(Number(m[2]));
      (phases['whole prologue (hook process)'] ??= []).push(total);
      copyFileSync(join(dir, 'domain.xml'), join(scratch, 'domain.xml'));
      await runEpilogue(mom, job, script, 0);

      // the bare tools doing the same steps
      const overlay = join(scratch, 'overlay.qcow2');
      rmSync(overlay, { force: true });
      bare.disks!.push(await ms(() => execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', '/var/lib/vmbatch/guest/disk.qcow2', overlay])));
      const staging = join(scratch, 'iso.d');
      rmSync(staging, { recursive: true, force: true });
      cpSync(fileURLToPath(new URL('../src/context/guest', import.meta.url)), staging, { recursive: true });
      writeFileSync(join(staging, 'vmbatch.env'), 'VB_X=1\n');
      rmSync(join(scratch, 'c.iso'), { force: true });
      bare.iso!.push(await ms(() => execa('genisoimage', ['-quiet', '-V', 'VMBATCH', '-R', '-J', '-o', join(scratch, 'c.iso'), staging])));
      const xml = readFileSync(join(scratch, 'domain.xml'), 'utf8')
        .replaceAll(dir, scratch)
        .replace(/<name>[^<]*<\/name>/, `<name>vmbatch-bare-${i}</name>`)
        .replace(/disk-vda\.qcow2/, 'overlay.qcow2')
        .replace(/context\.iso/, 'c.iso');
      writeFileSync(join(scratch, 'bare.xml'), xml);
      writeFileSync(join(scratch, 'console.log'), '');
      bare.create!.push(await ms(() => execa('virsh', ['-q', '-c', 'qemu:///system', 'create', join(scratch, 'bare.xml')])));
      await execa('virsh', ['-q', '-c', 'qemu:///system', 'destroy', `vmbatch-bare-${i}`], { reject: false });
    }
    // readiness notice latency: a writer appends the ready line and the watcher reports it
    const file = join(scratch, 'lag.log');
    for (let i = 0; i < 50; i++) {
      writeFileSync(file, 'boot noise\n');
      const nonce = i.toString(16).padStart(32, '0');
      const watch = watchConsole(file, nonce);
      await new Promise((r) => setTimeout(r, 5));
      const written = performance.now();
      appendFileSync(file, `VMBATCH-READY ${nonce} guest\n`);
      await watch.signal;
      noticeLag.push(performance.now() - written);
      watch.close();
    }
  } finally {
    teardownMom(mom);
    rmSync(scratch, { recursive: true, force: true });
  }

  const row = (name: string, v: number, b?: number) =>
    console.log(
      `${name.padEnd(32)} ${v.toFixed(1).padStart(9)} ms` + (b === undefined ? '' : `   bare ${b.toFixed(1).padStart(8)} ms   ratio ${(v / b).toFixed(2)}x   overhead ${(v - b).toFixed(1)} ms`),
    );
  console.log(`vmbatch prologue by phase, median of ${runs} runs (test guest, qemu:///system, TCG)`);
  for (const [name, values] of Object.entries(phases)) {
    const b = bare[name];
    row(name, median(values), b ? median(b) : undefined);
  }
  const overhead = median(phases.parse!) + median(phases.keys!) + (['disks', 'iso', 'create'] as const).reduce((s, p) => s + median(phases[p]!) - median(bare[p]!), 0);
  const bareSum = (['disks', 'iso', 'create'] as const).reduce((s, p) => s + median(bare[p]!), 0);
  const whole = median(phases['whole prologue (hook process)']!) - median(phases.ready!) - bareSum;
  console.log(`vmbatch's in-process overhead above the bare tools (parse + keys + Σ(phase − bare)): ${overhead.toFixed(1)} ms (target ≤ 150 ms)`);
  console.log(`whole hook overhead incl. node start-up, module loading, leftover check, reservations: ${whole.toFixed(1)} ms (same target)`);
  const startup: number[] = [];
  for (let i = 0; i < 5; i++) startup.push(await ms(() => execa(process.execPath, ['-e', `import(${JSON.stringify(fileURLToPath(new URL('../src/hooks/prologue.js', import.meta.url)))})`])));
  console.log(`  of which node start-up + loading the prologue's modules: ${median(startup).toFixed(1)} ms`);
  console.log(`readiness noticed after the ready line is written: median ${median(noticeLag).toFixed(2)} ms, max ${Math.max(...noticeLag).toFixed(2)} ms over ${noticeLag.length} (target ≤ 100 ms)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
