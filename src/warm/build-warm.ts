import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { loadTemplate, type DomainTemplate } from '../domain/parse-template.js';
import type { SizeRange, TemplateSize } from '../domain/template-size.js';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { acquireFileLock } from '../fsutil/file-lock.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { createDomain, destroyDomain, virsh } from '../hypervisor/virsh.js';
import { removeLibvirtLogs } from '../hypervisor/libvirt-log.js';
import { handOverToGuest } from '../identity/guest-files.js';
import { releaseGuestIdentity, reserveGuestIdentity } from '../identity/guest-identity.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { checkImageHeader } from '../images/check-image.js';
import { createCowOverlay } from '../images/disk-formats.js';
import { planDisks } from '../images/disk-plan.js';
import type { Logger } from '../log/logger.js';
import { waitForReady } from '../readiness/wait-ready.js';
import { buildIso } from '../context/build-iso.js';
import { planWarmSeed } from './warm-seed.js';
import { jobPaths, jobPathsIn } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';
import { processStartTicks } from '../state/boot-id.js';
import { fingerprintOf } from './fingerprint.js';
import { openWarmEntry, type WarmMeta } from './warm-entry.js';
import { planWarmStart, type WarmPlan } from './warm-plan.js';
import { warmBuildDomainName, warmEntryPaths, warmRoot } from './warm-paths.js';

/** What `vmbatch warm build` did. */
export interface WarmBuildResult {
  status: 'built' | 'current';
  meta: WarmMeta;
  dir: string;
}

// a build waits this long for another build of the same guest
const buildLockMs = 15 * 60_000;

/**
 * Makes the saved state of a <vbwarmstart/> template: boots its guest once with nothing of any
 * job (its boot line says vmbatch.warm=NONCE), waits for its warm-ready line, saves it (memory
 * and devices) and keeps its disks' overlays as frozen bases, root's and read-only to the
 * guests' group. Built aside and renamed into place, under a lock: a job sees a whole entry or
 * none. An entry that is current is kept unless `force`.
 */
export async function buildWarmState(config: Config, templateFile: string, options: { force: boolean; log: Logger; vcpus?: number; memoryMiB?: number }): Promise<WarmBuildResult> {
  const template = await loadTemplate(templateFile);
  if (!template.vb.warmStart) throw new VmbatchError('WARM_NOT_ENABLED', { template: templateFile });
  // the template's default size unless told: a job of another size needs a state of its own
  const size = { vcpus: options.vcpus ?? template.size.vcpus.default.value, memoryMiB: options.memoryMiB ?? template.size.memoryMiB.default.value };
  const outside = sizeProblems(template.size, size);
  if (outside.length) throw new VmbatchError('WARM_BUILD_FAILED', { template: templateFile, reason: outside.join('; ') });
  const root = warmRoot(config.stateDir);
  ensureDir(root, 0o755);
  const buildDir = join(root, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const nonce = randomBytes(16).toString('hex');
  const build = planWarmBuild(config, template, size, buildDir, nonce);
  if ('skipped' in build) throw new VmbatchError('WARM_BUILD_FAILED', { template: templateFile, reason: build.skipped });
  const { plan: probe, paths, disks, rendering } = build;
  const entry = warmEntryPaths(config.stateDir, probe.key);
  const lock = await acquireFileLock(entry.lock, { timeoutMs: buildLockMs, purpose: `vmbatch warm build ${templateFile}` });
  const owner = `warm-${probe.key.slice(0, 12)}`;
  const holder = jobPaths(config.stateDir, owner).dir;
  const domainName = warmBuildDomainName(probe.key);
  try {
    // what a build killed half-way left: its domain, its directory
    await destroyDomain(config.libvirtUri, domainName);
    sweepDeadBuilds(root);
    const existing = openWarmEntry(config.stateDir, entry, probe.key);
    if ('entry' in existing && !options.force) return { status: 'current', meta: existing.entry.meta, dir: entry.dir };
    // the uid's reservation names an owner with a job directory and a live owner record, as a
    // job's does: neither a prologue (which takes over reservations of absent jobs) nor reconcile
    // (which releases those of dead ones) gives the build's uid to a job while its qemu runs
    rmSync(holder, { recursive: true, force: true });
    ensureDir(dirname(holder), 0o755);
    mkdirSync(holder, { mode: 0o700 });
    writeJobOwner(holder);
    const identity = await reserveGuestIdentity(config, owner);
    const plan = planWarmStart({ template, rendering: { ...rendering, domainName, guestIdentity: identity }, disks, stateDir: config.stateDir, nonce }) as WarmPlan;
    mkdirSync(buildDir, { mode: 0o750 });
    chownSync(buildDir, 0, identity.gid);
    chmodSync(buildDir, 0o750);
    const frozen: WarmMeta['disks'] = [];
    for (const d of disks) {
      if (d.kind !== 'disk' || d.access !== 'overlay' || d.base.kind !== 'file') continue;
      const { virtualSize } = await checkImageHeader(d.base.path, d.baseFormat, d.base.path, { maxVirtualBytes: config.images.maxVirtualSizeMiB * 1048576 });
      await createCowOverlay({ cow: d.cow!, base: d.base.path, baseFormat: d.baseFormat, virtualSize, file: d.file });
      handOverToGuest([{ file: d.file, mode: 0o600 }], identity);
      frozen.push({ target: d.target, file: join(entry.dir, d.file.slice(buildDir.length + 1)), virtualSize });
    }
    // a cloud-init guest boots with a seed that starts the warm-start agent (nothing of a job)
    if (plan.style === 'cloud-init') {
      await buildIso(planWarmSeed({ nonce, key: plan.key }), paths.isoFile, paths.contextStaging);
      handOverToGuest([{ file: paths.isoFile, mode: 0o400 }], identity);
    }
    closeSync(openSync(paths.consoleFile, 'w', 0o600));
    writeFileAtomic(paths.domainXml, plan.buildXml, { mode: 0o644 });
    const started = Date.now();
    await createDomain(config.libvirtUri, domainName, paths.domainXml);
    const timeoutMs = (template.vb.readiness.timeout ?? config.readinessTimeoutSeconds) * 1000;
    await waitForReady({ uri: config.libvirtUri, domainName, consoleFile: paths.consoleFile, nonce, timeoutMs });
    const bootSeconds = (Date.now() - started) / 1000;
    // the seed leaves the drive before the save: a job's copy finds its own context there, and
    // the guest's kernel has dropped what it read of the seed
    const cdrom = disks.find((d) => d.kind === 'context');
    if (plan.style === 'cloud-init' && cdrom) await virsh(config.libvirtUri, ['change-media', domainName, cdrom.target, '--eject', '--live']);
    await virsh(config.libvirtUri, ['save', domainName, join(buildDir, 'memory.state')]);
    // the state holds the guest's memory: root's alone; the frozen disks are every job's bases
    handOverToGuest([{ file: join(buildDir, 'memory.state'), mode: 0o600 }], { uid: 0, gid: 0 });
    handOverToGuest(
      disks.flatMap((d) => (d.kind === 'disk' && d.access === 'overlay' ? [{ file: d.file, mode: 0o640 }] : [])),
      { uid: 0, gid: identity.gid },
    );
    rmSync(paths.sshSocket, { force: true });
    rmSync(paths.consoleSocket, { force: true });
    rmSync(paths.isoFile, { force: true });
    rmSync(paths.contextStaging, { recursive: true, force: true });
    const meta: WarmMeta = {
      version: 1,
      key: plan.key,
      template: templateFile,
      createdAt: new Date().toISOString(),
      bootSeconds,
      stateBytes: statSync(join(buildDir, 'memory.state')).size,
      vcpus: size.vcpus,
      memoryMiB: size.memoryMiB,
      disks: frozen,
      fingerprint: fingerprintOf(plan.fingerprintFiles),
    };
    writeFileAtomic(join(buildDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
    // a running job's qemu keeps the old frozen disk open: replacing the entry does not touch it
    const old = `${entry.dir}.old-${process.pid}`;
    // an interrupted build of the same pid may have left one: renaming onto it would fail
    rmSync(old, { recursive: true, force: true });
    try {
      renameSync(entry.dir, old);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    renameSync(buildDir, entry.dir);
    rmSync(old, { recursive: true, force: true });
    options.log.info('warm state built', { template: templateFile, key: plan.key.slice(0, 16), bootSeconds, stateBytes: meta.stateBytes });
    return { status: 'built', meta, dir: entry.dir };
  } catch (error) {
    if (isVmbatchError(error, 'WARM_BUILD_FAILED') || isVmbatchError(error, 'WARM_NOT_ENABLED')) throw error;
    throw new VmbatchError('WARM_BUILD_FAILED', { template: templateFile, reason: error instanceof Error ? error.message : String(error) }, { cause: error });
  } finally {
    // nothing of a failed build is left: its domain, its files, its uid
    await destroyDomain(config.libvirtUri, domainName).catch(() => undefined);
    if (!config.libvirtLog.keep) removeLibvirtLogs(config.libvirtLog.dir, domainName);
    rmSync(buildDir, { recursive: true, force: true });
    releaseGuestIdentity(config.stateDir, owner);
    rmSync(holder, { recursive: true, force: true });
    lock.release();
  }
}

/** Removes what a build, a replacement or a drop killed half-way left in `root` (its process gone): .build-PID-*, KEY.old-PID, .drop-KEY-PID. */
export function sweepDeadBuilds(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = /^(?:\.build-(\d+)-.*|[0-9a-f]{16}\.old-(\d+)|\.drop-[0-9a-f]{16}-(\d+))$/
      .exec(name)
      ?.slice(1)
      .find((p) => p !== undefined);
    if (pid === undefined || processStartTicks(Number(pid)) !== undefined) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

/**
 * What a build of `template`'s guest of `size` in `dir` boots and saves, as plain values: its disks,
 * paths and rendering, and its warm plan (the key a job of that size looks for). Nothing is done.
 */
export function planWarmBuild(config: Config, template: DomainTemplate, size: { vcpus: number; memoryMiB: number }, dir: string, nonce: string) {
  const paths = jobPathsIn(dir);
  const disks = planDisks(template, { paths, cacheDir: cacheDirOf(config), siteBase: config.images.siteBase, userImage: undefined });
  const rendering = {
    domainName: 'vbwarm',
    diskFiles: new Map(disks.map((d) => [d.index, { file: d.file, format: d.format }])),
    consoleFile: paths.consoleFile,
    sshSocket: template.vb.sshChannel ? paths.sshSocket : undefined,
    loginConsoleSocket: template.vb.remoteshell.mode === 'console' ? paths.consoleSocket : undefined,
    guestIdentity: { uid: 0, gid: 0 },
    size,
  };
  const plan = planWarmStart({ template, rendering, disks, stateDir: config.stateDir, nonce });
  return 'key' in plan ? { plan, paths, disks, rendering } : plan;
}

// A size the template does not allow a job cannot be saved for one.
function sizeProblems(limits: TemplateSize, size: { vcpus: number; memoryMiB: number }): string[] {
  const check = (range: SizeRange, value: number, unit: string): string[] => [
    ...(value < range.min.value ? [`${value} ${unit} is below the template's ${range.min.source}`] : []),
    ...(range.max && value > range.max.value ? [`${value} ${unit} is above the template's ${range.max.source}`] : []),
  ];
  return [...check(limits.vcpus, size.vcpus, 'vCPU(s)'), ...check(limits.memoryMiB, size.memoryMiB, 'MiB')];
}
