import { chmodSync, chownSync, closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildContext } from '../context/build-context.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { createDomain, destroyDomain } from '../hypervisor/virsh.js';
import { prepareWarmStart } from '../warm/warm-start.js';
import { restoreFromWarmState } from '../warm/restore-warm.js';
import { jobRefOf } from '../images/cache-users.js';
import { prepareDisks } from '../images/prepare-disks.js';
import { noteGuestRteFailure, noteGuestRteSuccess, prepareRtes } from '../catalogue/prepare-rtes.js';
import type { Logger } from '../log/logger.js';
import { waitForReady } from '../readiness/wait-ready.js';
import { writeJobState, type JobState } from '../state/job-state.js';
import { currentBootId } from '../state/boot-id.js';
import { guestFilesOf, handOverToGuest } from '../identity/guest-files.js';
import { rteSetupOf, type ProloguePlan } from './prologue-plan.js';
import { startShares } from '../share/start-shares.js';
import { startFromPool } from './apply-pooled.js';
import { loadChanges } from '../changes/load-changes.js';
import { changesForState } from '../changes/changes-plan.js';

/** Milliseconds spent in each phase of the prologue. */
export type PhaseTimings = Record<string, number>;

/**
 * Performs a plan: disks (images, created disks, overlays), context ISO, the user's key, the share daemons, the domain, readiness. The job
 * directory already exists (it was made before the address was reserved). Throws a catalogue
 * error on failure and leaves the cleanup to teardownJob. Readiness waits no longer than
 * the budget's deadline (epoch ms). Returns what the guest reported with its ready line.
 */
export async function applyPlan(
  plan: ProloguePlan,
  timings: PhaseTimings,
  budget: { startedAt: number; deadline: number },
  log: Logger,
): Promise<{ guestReport: string; start: 'pool' | 'warm' | 'cold'; domainName: string }> {
  const { startedAt, deadline } = budget;
  const time = <T>(phase: string, step: () => Promise<T> | T) => timePhase(timings, phase, step);
  const state: JobState = {
    version: 1,
    jobId: plan.jobId,
    user: plan.submitter.user,
    uid: plan.submitter.uid,
    gid: plan.submitter.gid,
    domainName: plan.domainName,
    libvirtUri: plan.libvirtUri,
    phase: 'preparing',
    sshSocket: plan.sshSocket,
    hostPublicKey: plan.hostKey.publicKey,
    remoteshell: plan.remoteshell,
    consoleSocket: plan.remoteshell === 'console' ? plan.paths.consoleSocket : undefined,
    hostScriptPath: plan.hostScriptPath,
    guestScriptPath: plan.guestScriptPath,
    interactive: plan.interactive,
    vcpus: plan.guestSize.vcpus,
    rte: rteSetupOf(plan),
    workdir: plan.shares.workdir,
    home: plan.shares.home,
    staged: plan.shares.staged,
    createdAt: new Date().toISOString(),
    bootId: currentBootId(),
    ...(plan.changes ? { changes: changesForState(plan.changes) } : {}),
  };
  writeJobState(plan.paths.stateFile, state);
  // ROOTSSH only: ssh2 is loaded when needed (start-up time counts for every job); a broken key
  // setup fails here, before anything is made
  const rootSshModule = plan.method === 'ROOTSSH' ? await import('../context/root-ssh.js') : undefined;
  if (rootSshModule && plan.rootSsh) rootSshModule.readRootSshKeys(plan.rootSsh);

  const cache = { ...plan.images, guestGid: plan.guestIdentity.gid, jobRef: jobRefOf(plan.jobId), deadline, usesFile: plan.paths.cacheUses, log };
  const { rte } = plan;
  if (rte) await time('rtes', () => prepareRtes(rte, cache));
  // a guest of the template's pool, restored and waiting: the quickest start of all
  const pooled = await startFromPool(plan, state, { time, deadline, log });
  if (pooled) {
    if (rte) await noteGuestRteSuccess(rte, { ...cache, uid: plan.submitter.uid });
    return { guestReport: pooled.guestReport, start: 'pool', domainName: pooled.domainName };
  }
  // warm start: a saved state of this very guest, current and root's alone; else a boot
  const warm = plan.warm && (await time('overlays', () => prepareWarmStart(plan.warm, plan.jobId, log)));
  const frozenTargets = new Set(warm ? warm.plan.overlays.map((o) => o.target) : []);
  await time('disks', () =>
    prepareDisks(
      plan.disks.filter((d) => !frozenTargets.has(d.target)),
      cache,
    ),
  );
  // the submitter's saved changes go between the disk's base and the job's overlay, while the
  // context is built: neither touches the other's files (no DISK context on the changes' disk)
  // and each is mostly another process's wait; both end before anything goes on
  const { changes } = plan;
  const load = changes?.load
    ? time('changes', () => loadChanges(changes, { submitter: plan.submitter, guestIdentity: plan.guestIdentity, maxVirtualBytes: plan.images.maxVirtualBytes, cache }))
    : undefined;
  // a cloud-init template's restored guest runs a vmbatch-style context (its warm-start agent)
  const context = time('iso', () => buildContext(plan, warm && plan.warmIso ? plan.warmIso : plan.iso));
  const failed = (await Promise.allSettled([load, context])).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await time('keys', () => {
    // remoteshell runs as the submitter and needs the private half; nobody else may read it
    writeFileAtomic(plan.paths.userKey, plan.userKey.privateKey, { mode: 0o600, uid: plan.submitter.uid, gid: plan.submitter.gid });
    writeFileAtomic(plan.paths.domainXml, plan.domainXml, { mode: 0o644 });
    closeSync(openSync(plan.paths.consoleFile, 'w', 0o600));
    // last step before the boot: every root tool (qemu-img, genisoimage, debugfs) is done with
    // the job's disks and ISO; from now on the job's qemu may rewrite them, so root opens none
    // of them with a tool again (only a created 'once' seed overlay, checked before its commit)
    handOverToGuest(guestFilesOf(plan), plan.guestIdentity);
  });
  // each share's daemon runs as the submitter and listens before qemu connects to it
  if (plan.shares.shared.length) {
    await time('shares', () => startShares(plan.shares.shared, { submitter: plan.submitter, qemuUid: plan.guestIdentity.uid, virtiofsd: plan.virtiofsd, deadline }));
  }
  writeJobState(plan.paths.stateFile, { ...state, phase: 'booting' });
  // a boot after a warm start that failed: the frozen disks' overlays give way to the template's
  const bootCold = async () => {
    if (warm) {
      await destroyDomain(plan.libvirtUri, plan.domainName);
      for (const o of warm.plan.overlays) rmSync(o.file, { force: true });
      await prepareDisks(
        plan.disks.filter((d) => frozenTargets.has(d.target)),
        cache,
      );
      if (plan.warmIso) await buildContext(plan, plan.iso);
      const remade = new Set([...warm.plan.overlays.map((o) => o.file), ...(plan.warmIso ? [plan.paths.isoFile] : [])]);
      handOverToGuest(
        guestFilesOf(plan).filter((f) => remade.has(f.file)),
        plan.guestIdentity,
      );
      closeSync(openSync(plan.paths.consoleFile, 'w', 0o600));
    }
    await time('create', () => createDomain(plan.libvirtUri, plan.domainName, plan.paths.domainXml));
    guardSockets(plan);
  };
  let start: 'warm' | 'cold' = 'cold';
  if (warm) {
    try {
      await time('restore', () => restoreFromWarmState({ uri: plan.libvirtUri, domainName: plan.domainName, xml: warm.plan.domainXml, entry: warm.entry, dir: plan.paths.dir }));
      guardSockets(plan);
      start = 'warm';
    } catch (error) {
      // never a failed job because of warm start
      log.warn('warm start failed, booting', { job: plan.jobId, error: errorText(error) });
      await bootCold();
    }
  } else {
    await bootCold();
  }
  const { rootSsh, sshSocket } = plan;
  if (rootSshModule && rootSsh && sshSocket !== undefined) {
    await time('rootssh', () =>
      rootSshModule.prepareOverRootSsh(
        { socket: sshSocket, ...rootSsh },
        { contextTar: plan.paths.contextTar, domain: plan.domainName, deadline: Math.min(deadline, Date.now() + plan.readinessTimeoutMs) },
      ),
    );
  }
  const waitGuest = async (capMs: number) => {
    const budgetLeft = deadline - Date.now();
    try {
      return await waitForReady({
        uri: plan.libvirtUri,
        domainName: plan.domainName,
        consoleFile: plan.paths.consoleFile,
        nonce: plan.nonce,
        timeoutMs: Math.max(0, Math.min(plan.readinessTimeoutMs, budgetLeft, capMs)),
      });
    } catch (error) {
      // when the prologue's budget, not the guest's own timeout, cut the wait short, say so
      if (rte && isVmbatchError(error, 'GUEST_PROLOG_FAILED')) await noteGuestRteFailure(rte, error.params.reason, { ...cache, uid: plan.submitter.uid });
      if (isVmbatchError(error, 'GUEST_NOT_READY') && budgetLeft < Math.min(plan.readinessTimeoutMs, capMs)) {
        throw new VmbatchError('BUDGET_EXCEEDED', { seconds: Math.round((deadline - startedAt) / 1000) }, { cause: error });
      }
      throw error;
    }
  };
  const ready = await time('ready', async () => {
    if (start === 'warm') {
      try {
        return await waitGuest(warmReadyCapMs);
      } catch (error) {
        // a restored guest that never reports, or stops: its state is broken, not the job
        if (!isVmbatchError(error, 'GUEST_NOT_READY') && !isVmbatchError(error, 'GUEST_STOPPED')) throw error;
        log.warn('warm-started guest not ready, booting', { job: plan.jobId, error: errorText(error) });
        start = 'cold';
        await bootCold();
      }
    }
    return waitGuest(Infinity);
  });
  if (rte) await noteGuestRteSuccess(rte, { ...cache, uid: plan.submitter.uid });
  writeJobState(plan.paths.stateFile, { ...state, phase: 'ready', guestReport: ready.detail });
  return { guestReport: ready.detail, start, domainName: plan.domainName };
}

// a restored guest reports within a second or two; longer means its state is broken
const warmReadyCapMs = 30_000;

// qemu made the login console's and the SSH channel's sockets; only the submitter (remoteshell
// runs as them) and root may use them
function guardSockets(plan: ProloguePlan): void {
  for (const socket of [plan.remoteshell === 'console' ? plan.paths.consoleSocket : undefined, plan.sshSocket]) {
    if (socket === undefined) continue;
    chownSync(socket, plan.submitter.uid, plan.submitter.gid);
    chmodSync(socket, 0o600);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one step and records its duration (ms, one decimal) under `phase`, also when it fails. */
export async function timePhase<T>(timings: PhaseTimings, phase: string, step: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[phase] = Math.round((performance.now() - started) * 10) / 10;
  }
}

/** Makes the job directory: root-owned, traversable so the user reaches their key and qemu its files. */
export function makeJobDir(dir: string): void {
  // explicit chmod: pbs_mom runs the prologue with umask 0077, and the job's qemu uid must
  // reach its overlays and the submitter their key
  ensureDir(dirname(dir), 0o755);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, 0, 0);
  chmodSync(dir, 0o755);
}
