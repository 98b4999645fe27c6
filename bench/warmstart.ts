// bench: a start from the pool and a warm start against a cold boot, side by side in one run
// (alternating), through the Torque harness and qemu:///system with the test guest; next to the
// bare tools (virsh restore of the same saved state, virsh create --paused of the same domain,
// virsh resume of a waiting guest); BENCH_CLOUD=1 adds the Debian cloud-init guest. Prints
// figures and ratios; asserts nothing. Targets (issue 17): prologue start to job runnable
// <= 1.5 s warm (test guest), <= 3 s warm (cloud-init guest), <= 0.3 s from the pool.
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { cliPath } from '../test/helpers/image-cache.js';
import { domainsDir } from '../test/helpers/paths.js';
import { runEpilogue, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../test/torque/pbs-mom.js';
import { median, ms, printSummary } from './measure.js';
import { settleFills } from '../test/helpers/warm-fills.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const uri = 'qemu:///system';
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const staged = shipped.replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='rw' method='stage'/>");
const withWarm = (xml: string) => xml.replace('<vbpreparemethod>', '<vbwarmstart/>\n    <vbpreparemethod>');
const cloud = readFileSync(join(domainsDir, 'cloudguest.xml'), 'utf8').replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='rw' method='stage'/>");
// BENCH_CLOUD=1: the Debian cloud-init guest too (a cold boot is about a minute under TCG)
const withCloud = process.env.BENCH_CLOUD === '1';
const cloudRuns = Number(process.env.BENCH_CLOUD_RUNS ?? 3);
const withPool = (xml: string) => xml.replace('<vbpreparemethod>', "<vbwarmstart pool='1'/>\n    <vbpreparemethod>");
const domains = { coldguest: staged, warmguest: withWarm(staged), poolguest: withPool(staged), ...(withCloud ? { cloudcold: cloud, cloudwarm: withWarm(cloud), cloudpool: withPool(cloud) } : {}) };
type Kind = 'cold' | 'warm' | 'pool';
const kinds: Kind[] = ['cold', 'warm', 'pool'];

// The waiting guest's domain (there is one after a fill of a pool of one).
function waitingDomain(mom: Mom): string {
  const id = readdirSync(join(mom.stateDir, 'jobs')).find(
    (n) => n.startsWith('pool-') && !(JSON.parse(readFileSync(join(mom.stateDir, 'jobs', n, 'pool.json'), 'utf8')) as { claimedBy?: string }).claimedBy,
  );
  return `vmbatch-${id}`;
}

// The phases of a job's ready line (ms).
function phasesOf(mom: Mom, jobId: string): Record<string, number> {
  const line =
    readFileSync(mom.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`job=${jobId} `) && l.includes('msg="ready"'))
      .pop() ?? '';
  return Object.fromEntries([...line.matchAll(/ (disks|overlays|iso|keys|create|restore|pool|resume|ready)=([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

// The domain a job's ready line names (its own, or the pool guest it took).
function readyDomain(mom: Mom, jobId: string): string {
  const line =
    readFileSync(mom.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`job=${jobId} `) && l.includes('msg="ready"'))
      .pop() ?? '';
  return /domain=(\S+)/.exec(line)![1]!;
}

// The resident memory of a running domain's qemu (KiB).
async function qemuRssKiB(name: string): Promise<number> {
  const pid = readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim();
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

async function main(): Promise<void> {
  const user = await ensureHostUser('vbbench', 41101, 41102);
  const mom = await setupMom({ domains, config: { prologueBudgetSeconds: 280 } });
  const scratch = mkdtempSync('/tmp/vmbatch-bench-warm-');
  chmodSync(scratch, 0o755);
  const vmbatch = (args: string[]) => execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: mom.configFile } });
  const whole: Record<Kind, number[]> = { cold: [], warm: [], pool: [] };
  const phases: Record<string, number[]> = {};
  const rss: Record<Kind | 'waiting', number[]> = { cold: [], warm: [], pool: [], waiting: [] };
  const bare: Record<string, number[]> = { 'virsh restore (same state)': [], 'virsh create --paused (same domain)': [], 'virsh resume (a waiting guest)': [] };
  let stateBytes = 0;
  let buildSeconds = 0;
  let coldXml = '';
  const cloudFigures = {
    cold: [] as number[],
    warm: [] as number[],
    pool: [] as number[],
    rss: { cold: [] as number[], warm: [] as number[], pool: [] as number[], waiting: [] as number[] },
    buildSeconds: 0,
    stateMiB: 0,
  };
  try {
    const build = await vmbatch(['warm', 'build', 'warmguest']);
    buildSeconds = Number(/booted in ([\d.]+) s/.exec(build.stdout)?.[1]);
    const entry = join(
      mom.stateDir,
      'warm',
      readdirSync(join(mom.stateDir, 'warm')).find((n) => /^[0-9a-f]{16}$/.test(n))!,
    );
    const meta = JSON.parse(readFileSync(join(entry, 'meta.json'), 'utf8')) as { stateBytes: number };
    stateBytes = meta.stateBytes;
    await vmbatch(['warm', 'fill', 'poolguest']);
    for (let i = 0; i < runs; i++) {
      for (const kind of kinds) {
        const job = { jobId: `${950 + i * 3 + kinds.indexOf(kind)}.bench`, user, resources: `other=vbdomain=${kind}guest` };
        const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
        await settleFills(mom.logFile);
        if (kind === 'pool') rss.waiting.push(await qemuRssKiB(waitingDomain(mom)));
        let exit = -1;
        whole[kind].push(await ms(async () => (exit = (await runPrologue(mom, job, script)).exitCode)));
        if (exit !== 0) throw new Error(`the ${kind} prologue of ${job.jobId} failed`);
        for (const [phase, value] of Object.entries(phasesOf(mom, job.jobId))) (phases[`${kind} ${phase}`] ??= []).push(value);
        rss[kind].push(await qemuRssKiB(readyDomain(mom, job.jobId)));
        if (kind === 'cold') coldXml = readFileSync(join(mom.stateDir, 'jobs', job.jobId, 'domain.xml'), 'utf8');
        await runEpilogue(mom, job, script, 0);
      }
      // the bare tools on the same inputs: libvirt restoring the very state file (its own name,
      // paths moved to a scratch directory), and starting the job's domain paused
      const saved = (await execa('virsh', ['-q', '-c', uri, 'save-image-dumpxml', join(entry, 'memory.state')])).stdout;
      const name = /<name>([^<]+)<\/name>/.exec(saved)![1]!;
      const buildDir = /'([^']*\/\.build-[^/']*)\//.exec(saved)![1]!;
      const [uid, gid] = /<label>\+(\d+):\+(\d+)<\/label>/.exec(saved)!.slice(1).map(Number) as [number, number];
      const bareFiles = async (dir: string, base: string) => {
        rmSync(join(dir, 'disk-vda.qcow2'), { force: true });
        await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, join(dir, 'disk-vda.qcow2')]);
        writeFileSync(join(dir, 'console.log'), '');
        for (const file of ['disk-vda.qcow2', 'console.log']) chownSync(join(dir, file), uid, gid);
      };
      await bareFiles(scratch, join(entry, 'disk-vda.qcow2'));
      writeFileSync(join(scratch, 'restore.xml'), saved.replaceAll(buildDir, scratch));
      bare['virsh restore (same state)']!.push(await ms(() => execa('virsh', ['-q', '-c', uri, 'restore', join(entry, 'memory.state'), '--xml', join(scratch, 'restore.xml')])));
      await execa('virsh', ['-q', '-c', uri, 'destroy', name], { reject: false });
      await bareFiles(scratch, '/var/lib/vmbatch/guest/disk.qcow2');
      const jobDir = /["']([^"']*\/jobs\/[^/"']*)\//.exec(coldXml)![1]!;
      const xml = coldXml
        .replaceAll(jobDir, scratch)
        .replace(/<name>[^<]*<\/name>/, '<name>vmbatch-bare-warm</name>')
        .replace(/<source file=["'][^"']*context\.iso["']\/>/, '')
        .replace(/<label>[^<]*<\/label>/, `<label>+${uid}:+${gid}</label>`);
      writeFileSync(join(scratch, 'bare.xml'), xml);
      bare['virsh create --paused (same domain)']!.push(await ms(() => execa('virsh', ['-q', '-c', uri, 'create', '--paused', join(scratch, 'bare.xml')])));
      await execa('virsh', ['-q', '-c', uri, 'destroy', 'vmbatch-bare-warm'], { reject: false });
      // the bare resume: libvirt resuming the waiting guest, which is then ended
      await settleFills(mom.logFile);
      const waitingGuest = waitingDomain(mom);
      bare['virsh resume (a waiting guest)']!.push(await ms(() => execa('virsh', ['-q', '-c', uri, 'resume', waitingGuest])));
      // that guest is spent: reconcile removes it (no domain), and a fill puts a new one in its place
      await execa('virsh', ['-q', '-c', uri, 'destroy', waitingGuest]);
      await vmbatch(['reconcile']);
      await vmbatch(['warm', 'fill', 'poolguest']);
    }
    await settleFills(mom.logFile);
    await vmbatch(['warm', 'drop', 'warmguest']);
    if (withCloud) {
      const build = await vmbatch(['warm', 'build', 'cloudwarm']);
      cloudFigures.buildSeconds = Number(/booted in ([\d.]+) s/.exec(build.stdout)?.[1]);
      cloudFigures.stateMiB = Number(/state ([\d.]+) MiB/.exec(build.stdout)?.[1]);
      await vmbatch(['warm', 'fill', 'cloudpool']);
      for (let i = 0; i < cloudRuns; i++) {
        for (const kind of kinds) {
          const job = { jobId: `${970 + i * 3 + kinds.indexOf(kind)}.bench`, user, resources: `other=vbdomain=cloud${kind}` };
          const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
          await settleFills(mom.logFile);
          if (kind === 'pool') cloudFigures.rss.waiting.push(await qemuRssKiB(waitingDomain(mom)));
          let exit = -1;
          cloudFigures[kind].push(await ms(async () => (exit = (await runPrologue(mom, job, script)).exitCode)));
          if (exit !== 0) throw new Error(`the cloud ${kind} prologue of ${job.jobId} failed`);
          cloudFigures.rss[kind].push(await qemuRssKiB(readyDomain(mom, job.jobId)));
          await runEpilogue(mom, job, script, 0);
        }
      }
      await settleFills(mom.logFile);
      await vmbatch(['warm', 'drop', 'cloudwarm']);
    }
  } finally {
    teardownMom(mom);
    rmSync(scratch, { recursive: true, force: true });
  }

  const f = (v: number) => `${v.toFixed(0).padStart(6)} ms`;
  console.log(`pool and warm start against a cold boot, median of ${runs} runs each, alternating (test guest, 256 MiB, qemu:///system, TCG)`);
  console.log(
    `prologue start to job runnable:  cold ${f(median(whole.cold))}   warm ${f(median(whole.warm))}   pool ${f(median(whole.pool))}   warm/cold ${(median(whole.warm) / median(whole.cold)).toFixed(2)}x   pool/cold ${(median(whole.pool) / median(whole.cold)).toFixed(2)}x`,
  );
  for (const [name, values] of Object.entries(phases).sort()) console.log(`  ${name.padEnd(16)} ${f(median(values))}`);
  for (const [name, values] of Object.entries(bare)) console.log(`bare ${name.padEnd(38)} ${f(median(values))}`);
  console.log(`vmbatch restore phase / bare virsh restore: ${(median(phases['warm restore']!) / median(bare['virsh restore (same state)']!)).toFixed(2)}x`);
  console.log(`saved state: ${(stateBytes / 1048576).toFixed(1)} MiB; build (boot to warm-ready) ${buildSeconds.toFixed(1)} s`);
  console.log(
    `qemu resident memory per running guest: cold ${(median(rss.cold) / 1024).toFixed(0)} MiB, warm ${(median(rss.warm) / 1024).toFixed(0)} MiB, pool ${(median(rss.pool) / 1024).toFixed(0)} MiB; per waiting guest ${(median(rss.waiting) / 1024).toFixed(0)} MiB`,
  );
  if (withCloud) {
    console.log(`\ncloud-init Debian guest (1 GiB), median of ${cloudRuns} runs each, alternating:`);
    console.log(
      `prologue start to job runnable:  cold ${f(median(cloudFigures.cold))}   warm ${f(median(cloudFigures.warm))}   pool ${f(median(cloudFigures.pool))}   warm/cold ${(median(cloudFigures.warm) / median(cloudFigures.cold)).toFixed(2)}x`,
    );
    console.log(
      `saved state: ${cloudFigures.stateMiB.toFixed(1)} MiB; build (boot to warm-ready) ${cloudFigures.buildSeconds.toFixed(1)} s; qemu resident memory: cold ${(median(cloudFigures.rss.cold) / 1024).toFixed(0)} MiB, warm ${(median(cloudFigures.rss.warm) / 1024).toFixed(0)} MiB, pool ${(median(cloudFigures.rss.pool) / 1024).toFixed(0)} MiB; per waiting guest ${(median(cloudFigures.rss.waiting) / 1024).toFixed(0)} MiB`,
    );
  }
  printSummary('summary', [
    { figure: 'test guest, prologue start to job runnable, warm', value: `${(median(whole.warm) / 1000).toFixed(2)} s`, target: '<= 1.5 s', met: median(whole.warm) <= 1500 },
    { figure: 'test guest, the same, from the pool', value: `${(median(whole.pool) / 1000).toFixed(2)} s`, target: '<= 0.3 s', met: median(whole.pool) <= 300 },
    { figure: 'test guest, the same, cold', value: `${(median(whole.cold) / 1000).toFixed(2)} s`, target: 'reference', met: undefined },
    ...(withCloud
      ? [
          { figure: 'cloud-init guest, prologue start to job runnable, warm', value: `${(median(cloudFigures.warm) / 1000).toFixed(2)} s`, target: '<= 3 s', met: median(cloudFigures.warm) <= 3000 },
          { figure: 'cloud-init guest, the same, from the pool', value: `${(median(cloudFigures.pool) / 1000).toFixed(2)} s`, target: '<= 0.3 s', met: median(cloudFigures.pool) <= 300 },
          { figure: 'cloud-init guest, the same, cold', value: `${(median(cloudFigures.cold) / 1000).toFixed(2)} s`, target: 'reference', met: undefined },
        ]
      : []),
  ]);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
