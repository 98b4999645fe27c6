import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { teardownJob } from '../cleanup/teardown.js';
import { loadTemplate, type DomainTemplate } from '../domain/parse-template.js';
import { listTemplates } from '../domain/select-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { acquireFileLock } from '../fsutil/file-lock.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { domainNameFor } from '../job/names.js';
import { handOverSockets, handOverToGuest } from '../identity/guest-files.js';
import { makeJobDir } from '../plan/apply-plan.js';
import { reserveGuestIdentity } from '../identity/guest-identity.js';
import type { Logger } from '../log/logger.js';
import { jobPaths } from '../state/job-paths.js';
import { writeJobOwner } from '../state/job-owner.js';
import { buildWarmState, planWarmBuild } from './build-warm.js';
import { idleExpired, isWaiting, listPoolGuests, poolFillLock, poolGuestId, writePoolGuestRecord } from './pool-guest.js';
import { retireWaiting } from './retire-pool.js';
import { restoreFromWarmState } from './restore-warm.js';
import { openWarmEntry, type WarmEntry } from './warm-entry.js';
import { planWarmStart, type WarmPlan } from './warm-plan.js';
import { createWarmOverlays } from './warm-start.js';

/** What one fill of a template's pool did. */
export interface PoolFill {
  template: string;
  /** the pool's size (<vbwarmstart pool>) */
  size: number;
  /** guests now waiting */
  waiting: number;
  made: string[];
  /** waiting guests ended: idle past the limit, of a replaced state, or beyond the pool's size */
  retired: string[];
  /** the saved state was built first (<vbwarmstart build='auto'>) */
  built: boolean;
  /** why no guest could be made (no current state, another fill at work) */
  skipped?: string;
}

/** Why a fill left: another one holds the pool's fill lock (not a failure). */
export const anotherFill = 'another fill of this pool is at work';

/** The templates of `domainsDir` whose <vbwarmstart> has a pool or lets a job build its state. */
export async function poolTemplates(domainsDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const name of listTemplates(domainsDir)) {
    const file = join(domainsDir, `${name}.xml`);
    try {
      const settings = (await loadTemplate(file)).vb.warmStart;
      if (settings && (settings.pool > 0 || settings.build === 'auto')) files.push(file);
    } catch {
      // a broken template is the doctor's to report; it has no pool to fill
    }
  }
  return files;
}

/**
 * Brings a template's pool to its size: ends waiting guests idle past their limit or of another
 * saved state, builds the saved state first when the template lets a job's start do so
 * (build='auto') and none is current, then restores guests from it, paused, until `size` wait.
 * One fill per state at a time: another finds the work taken and leaves. A guest that fails to
 * start is removed whole; the fill stops there.
 */
export async function fillPool(config: Config, templateFile: string, log: Logger): Promise<PoolFill> {
  const template = await loadTemplate(templateFile);
  const settings = template.vb.warmStart;
  if (!settings) throw new VmbatchError('WARM_NOT_ENABLED', { template: templateFile });
  const result: PoolFill = { template: templateFile, size: settings.pool, waiting: 0, made: [], retired: [], built: false };
  const size = { vcpus: template.size.vcpus.default.value, memoryMiB: template.size.memoryMiB.default.value };
  const probe = planWarmBuild(config, template, size, jobPaths(config.stateDir, 'pool-probe').dir, '0');
  const key = 'skipped' in probe ? undefined : probe.plan.key;
  // guests of this template from an earlier state (rebuilt, or the template changed) or idle too long
  result.retired.push(...(await retireWaiting(config, ({ record: r }) => r.template === templateFile && (r.key !== key || idleExpired(r, Date.now())))));
  if ('skipped' in probe) return { ...result, skipped: probe.skipped };
  const { entry } = probe.plan;
  let lock;
  try {
    lock = await acquireFileLock(poolFillLock(config.stateDir, probe.plan.key), { timeoutMs: 0, purpose: `vmbatch warm fill ${templateFile}` });
  } catch {
    return { ...result, skipped: anotherFill };
  }
  try {
    let opened = openWarmEntry(config.stateDir, entry, probe.plan.key, size);
    if ('skipped' in opened && settings.build === 'auto') {
      // a stale entry is replaced; a missing one made
      await buildWarmState(config, templateFile, { force: existsSync(entry.meta), log });
      result.built = true;
      opened = openWarmEntry(config.stateDir, entry, probe.plan.key, size);
    }
    if ('skipped' in opened) return { ...result, skipped: opened.skipped };
    // a smaller pool than before: the guests beyond its size go
    const waiting = () =>
      listPoolGuests(config.stateDir)
        .filter(isWaiting)
        .filter((g) => g.record.key === probe.plan.key);
    const surplus = new Set(
      waiting()
        .slice(settings.pool)
        .map((g) => g.id),
    );
    if (surplus.size) result.retired.push(...(await retireWaiting(config, (g) => surplus.has(g.id))));
    for (let n = waiting().length; n < settings.pool; n++) {
      const id = await makePoolGuest(config, { template, key: probe.plan.key, entry: opened.entry, size, idleSeconds: settings.idle });
      result.made.push(id);
      log.info('pool guest waiting', { template: templateFile, guest: id });
    }
    return { ...result, waiting: waiting().length };
  } finally {
    lock.release();
  }
}

/**
 * Makes one waiting guest: a directory of its own (as a job's), its own qemu uid, overlays over
 * the state's frozen disks, the state restored into a paused domain vmbatch-pool-KEY12-N with
 * an empty CD-ROM drive and sockets only root may open; its record is written last, so that no
 * job takes a guest half made. Removed whole when any step fails.
 */
async function makePoolGuest(config: Config, input: { template: DomainTemplate; key: string; entry: WarmEntry; size: { vcpus: number; memoryMiB: number }; idleSeconds: number }): Promise<string> {
  const taken = new Set(listPoolGuests(config.stateDir).map((g) => g.id));
  let n = 1;
  while (taken.has(poolGuestId(input.key, n))) n++;
  const id = poolGuestId(input.key, n);
  const paths = jobPaths(config.stateDir, id);
  makeJobDir(paths.dir);
  // a live owner record: neither reconcile nor a prologue takes the guest's uid while it is made
  writeJobOwner(paths.dir);
  try {
    const identity = await reserveGuestIdentity(config, id);
    const build = planWarmBuild(config, input.template, input.size, paths.dir, '0');
    if ('skipped' in build) throw new VmbatchError('WARM_STATE_UNUSABLE', { path: input.entry.paths.dir, reason: build.skipped });
    const plan = planWarmStart({
      template: input.template,
      rendering: { ...build.rendering, domainName: domainNameFor(id), guestIdentity: identity },
      disks: build.disks,
      stateDir: config.stateDir,
    }) as WarmPlan;
    await createWarmOverlays({ plan, entry: input.entry });
    handOverToGuest(
      plan.overlays.map((o) => ({ file: o.file, mode: 0o600 })),
      identity,
    );
    closeSync(openSync(paths.consoleFile, 'w', 0o600));
    writeFileAtomic(paths.domainXml, plan.waitingXml, { mode: 0o644 });
    await restoreFromWarmState({ uri: config.libvirtUri, domainName: domainNameFor(id), xml: plan.waitingXml, entry: input.entry, dir: paths.dir, paused: true });
    // qemu made the sockets as the guest's uid: nobody but root may reach a waiting guest
    handOverSockets([paths.sshSocket, paths.consoleSocket], { uid: 0, gid: 0 });
    const cdrom = build.disks.find((d) => d.kind === 'context');
    writePoolGuestRecord(paths.dir, {
      version: 1,
      key: input.key,
      template: input.template.file,
      waitingSince: new Date().toISOString(),
      idleSeconds: input.idleSeconds,
      cdromTarget: cdrom!.target,
      uid: identity.uid,
      gid: identity.gid,
    });
    return id;
  } catch (error) {
    await teardownJob(config, id);
    throw error;
  }
}
