import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { generateKeyPair, type SshKeyPair } from '../context/keys.js';
import { guestTarList, planContextIso, type IsoLayout } from '../context/iso-layout.js';
import { planTarFiles } from '../context/tar-plan.js';
import { planCloudInitIso } from '../context/cloud-init.js';
import { planDiskContext, type PartitionWrite } from '../context/disk-context.js';
import type { GuestParams } from '../context/guest-params.js';
import type { DomainTemplate, WarmStartSettings } from '../domain/parse-template.js';
import { planChanges, type ChangesPlan } from '../changes/changes-plan.js';
import { renderDomain, type DomainRendering } from '../domain/render-domain.js';
import { isWarmPlan, planWarmStart, type WarmPlan, type WarmSkipped } from '../warm/warm-plan.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { isCreateOnceSeeder } from '../images/created-disk.js';
import { planDisks, type DiskPlan, type DiskPlanInput } from '../images/disk-plan.js';
import type { JobDescription } from '../job/job-description.js';
import { domainNameFor } from '../job/names.js';
import type { Submitter } from '../job/submitter.js';
import { jobPaths, type JobPaths } from '../state/job-paths.js';
import { networkParams } from '../context/guest-params.js';
import type { StaticAddress } from '../network/address-pool.js';
import type { RteResolution } from '../catalogue/resolve-request.js';
import { planRtes, type RtePlan } from '../catalogue/rte-plan.js';
import { guestRteList, jobRteSetup } from '../context/rte-layout.js';
import type { GuestIdentity } from '../identity/guest-identity.js';
import type { GuestSize } from '../domain/guest-size.js';
import type { SharePlan } from '../share/plan-shares.js';
import { guestShareCommands, shareParams } from '../share/guest-shares.js';
import { guestRootOf } from '../context/guest-root.js';

/** Everything the prologue will do, as plain values: printable by a dry run, performed by applyPlan. */
export interface ProloguePlan {
  jobId: string;
  domainName: string;
  libvirtUri: string;
  template: string;
  paths: JobPaths;
  submitter: Submitter;
  disks: DiskPlan[];
  /** how the context reaches the guest: a CDROM volume, or a root login that runs prolog.sh (ROOTSSH) */
  method: 'CDROM' | 'ROOTSSH' | 'DISK';
  remoteshell: 'ssh' | 'console';
  /** DISK: the partitions the context and the job script are written into */
  diskContext: PartitionWrite[];
  rootSsh: Config['rootSsh'] | undefined;
  /** how images are fetched and shared */
  images: { cacheDir: string; stallTimeoutMs: number; maxRedirects: number; caFile?: string; createOnceWaitMs: number; maxVirtualBytes: number; createOnceSeeder: boolean };
  iso: IsoLayout;
  /** runtime environments from the catalogue: fetched by the host, installed by the guest */
  rte: RtePlan | undefined;
  domainXml: string;
  /** <vbsshchannel/>: the unix socket SSH reaches the guest through */
  sshSocket: string | undefined;
  staticAddress: StaticAddress | undefined;
  /** the uid and gid the job's qemu runs as (libvirt's static DAC label) */
  guestIdentity: GuestIdentity;
  /** the guest's vCPUs and memory, and where each came from */
  guestSize: GuestSize;
  nonce: string;
  readinessTimeoutMs: number;
  userKey: SshKeyPair;
  hostKey: SshKeyPair;
  hostScriptPath: string;
  guestScriptPath: string;
  /** `qsub -I`: no script; remoteshell gives the submitter a login shell in the guest */
  interactive: boolean;
  /** the job's directories in the guest: virtiofs shares (a daemon each), the staged working directory */
  shares: SharePlan;
  /** the virtiofs daemon the shares run */
  virtiofsd: string;
  /** <vbwarmstart/>: how the guest starts from a saved state, or why it boots all the same */
  warm: WarmPlan | WarmSkipped | undefined;
  /** the submitter's saved changes: boot from them, save them (vbchanges, vbsavechanges) */
  changes: ChangesPlan | undefined;
  /** <vbwarmstart>'s pool and build settings (a job takes a waiting guest of its saved state when one waits) */
  warmSettings: WarmStartSettings | undefined;
  /** a warm start of a cloud-init template: the vmbatch-style context its warm-start agent runs (`iso` stays for a boot) */
  warmIso: IsoLayout | undefined;
}

/** Builds the plan of one job from validated inputs (reads only the job script). */
export function planPrologue(input: {
  config: Config;
  job: JobDescription;
  template: DomainTemplate;
  submitter: Submitter;
  userImage?: DiskPlanInput['userImage'];
  staticAddress?: StaticAddress;
  rte?: RteResolution | undefined;
  guestIdentity: GuestIdentity;
  /** the job's size resolved against the template (resolveGuestSize) */
  guestSize: GuestSize;
  /** the job's directories in the guest (planShares) */
  shares: SharePlan;
}): ProloguePlan {
  const { config, job, template, submitter } = input;
  const jobScript = job.script;
  const paths = jobPaths(config.stateDir, job.jobId);
  const domainName = domainNameFor(job.jobId);
  const nonce = randomBytes(16).toString('hex');
  const userKey = generateKeyPair(`vmbatch-${job.jobId}-${submitter.user}`);
  const hostKey = generateKeyPair(`vmbatch-${job.jobId}-host`);
  const jobPath = template.vb.jobPath ?? config.guestJobPath;
  const jobFile = `${job.jobId}.SC`;
  const tarFiles = planTarFiles(template.vb.tarFiles, config.contextFilesDir);
  const cacheDir = cacheDirOf(config);
  const rte = input.rte && planRtes(input.rte, { cacheDir, usedTargets: template.disks.map((d) => d.target), failuresToMarkFailed: config.catalogue.failuresToMarkFailed });
  const params: GuestParams = {
    VB_NONCE: nonce,
    VB_JOBID: job.jobId,
    VB_JOBNAME: job.jobName,
    VB_USER: submitter.user,
    VB_GROUP: submitter.group,
    VB_UID: submitter.uid,
    VB_GID: submitter.gid,
    VB_HOME: input.shares.home,
    VB_SHELL: submitter.shell,
    VB_JOBPATH: jobPath,
    VB_JOBFILE: jobFile,
    VB_READY_CONSOLE: template.vb.readiness.device,
    VB_TARFILES: guestTarList(tarFiles),
    VB_RTES: rte ? guestRteList(rte.guest) : '',
    ...networkParams(input.staticAddress),
    VB_CONSOLE_LOGIN: template.vb.remoteshell.mode === 'console' ? template.vb.remoteshell.device : '',
    VB_ROOT: guestRootOf(config, job.request) ? 'yes' : 'no',
    ...shareParams(input.shares),
  };
  // a submitter's image is cached for that submitter alone
  const userImage = input.userImage && { ...input.userImage, source: { ...input.userImage.source, ownerUid: submitter.uid } };
  const disks = planDisks(template, { paths, cacheDir, siteBase: config.images.siteBase, userImage });
  const sshSocket = template.vb.sshChannel ? paths.sshSocket : undefined;
  const rendering: DomainRendering = {
    domainName,
    diskFiles: new Map(disks.map((d) => [d.index, { file: d.file, format: d.format }])),
    consoleFile: paths.consoleFile,
    sshSocket,
    staticAddress: input.staticAddress,
    loginConsoleSocket: template.vb.remoteshell.mode === 'console' ? paths.consoleSocket : undefined,
    // ROOTSSH guests booted from a kernel learn the submitter before the host logs in
    kernelParams: template.vb.prepareMethod === 'ROOTSSH' ? { user: submitter.user, uid: submitter.uid, group: submitter.group, gid: submitter.gid, jobid: job.jobId } : undefined,
    extraDisks: rte?.packages.flatMap((p) => (p.disk ? [{ file: p.cacheFile, ...p.disk }] : [])),
    guestIdentity: input.guestIdentity,
    size: input.guestSize,
    shares: input.shares.shared,
  };
  const domainXml = renderDomain(template, rendering);
  const changes = planChanges({ config, template, disks, request: job.request, home: submitter.home, paths });
  // a job that brings its own image or changes starts from them, never from a state saved from the template's
  const warm = !template.vb.warmStart
    ? undefined
    : userImage
      ? { skipped: 'the job brings its own image' }
      : changes
        ? { skipped: 'the job boots from or saves its own changes (a layer over the base image, not over a saved state)' }
        : planWarmStart({ template, rendering, disks, stateDir: config.stateDir });
  // a guest restored from a saved state is one of many copies: what makes it a machine of its own
  if (isWarmPlan(warm)) Object.assign(params, { VB_SEED: randomBytes(32).toString('hex'), VB_MACHINE_ID: randomBytes(16).toString('hex'), VB_CLOCK: Math.floor(Date.now() / 1000) });
  const isoInput: Parameters<typeof planCloudInitIso>[0] = {
    params,
    // an interactive job's guest (and a Slurm job's: its tasks bring their commands) gets an
    // empty script file: every context method ships one
    jobScript: jobScript.kind === 'batch' ? jobScript.content : '',
    userKey,
    hostKey,
    tarFiles,
    staticAddress: input.staticAddress,
    rteTars: rte?.packages.filter((p) => p.kind === 'tar').map((p) => p.cacheFile) ?? [],
    shareCommands: guestShareCommands(input.shares, submitter),
  };
  const timeoutSeconds = Math.min(template.vb.readiness.timeout ?? config.readinessTimeoutSeconds, config.prologueBudgetSeconds);
  return {
    jobId: job.jobId,
    domainName,
    libvirtUri: config.libvirtUri,
    template: template.file,
    paths,
    submitter,
    disks,
    method: template.vb.prepareMethod,
    remoteshell: template.vb.remoteshell.mode,
    diskContext: template.vb.prepareMethod === 'DISK' ? planDiskContext(template.vb.partitions, disks, paths.dir) : [],
    rootSsh: template.vb.prepareMethod === 'ROOTSSH' ? config.rootSsh : undefined,
    images: {
      cacheDir,
      stallTimeoutMs: config.images.stallTimeoutSeconds * 1000,
      maxRedirects: config.images.maxRedirects,
      caFile: config.images.caFile,
      createOnceWaitMs: config.images.createOnceWaitSeconds * 1000,
      maxVirtualBytes: config.images.maxVirtualSizeMiB * 1048576,
      // only the admin's designated users may write into a shared create='once' disk
      createOnceSeeder: isCreateOnceSeeder(config.images.createOnceSeeders, submitter),
    },
    iso: planIso(template, isoInput),
    changes,
    warmSettings: template.vb.warmStart,
    warmIso: isWarmPlan(warm) && warm.style === 'cloud-init' ? planContextIso(isoInput) : undefined,
    rte,
    domainXml,
    sshSocket,
    staticAddress: input.staticAddress,
    guestIdentity: input.guestIdentity,
    guestSize: input.guestSize,
    nonce,
    readinessTimeoutMs: timeoutSeconds * 1000,
    userKey,
    hostKey,
    hostScriptPath: job.scriptPath ?? '',
    guestScriptPath: `${jobPath.replace(/\/+$/, '')}/${jobFile}`,
    interactive: jobScript.kind === 'interactive',
    shares: input.shares,
    virtiofsd: config.shares.virtiofsd,
    warm,
  };
}

// The context volume in the style the template's <vbpreparecdrom> asks for.
function planIso(template: DomainTemplate, input: Parameters<typeof planCloudInitIso>[0]): IsoLayout {
  const style = template.disks.find((d) => d.vbpreparecdrom)?.vbpreparecdrom?.style;
  return style === 'cloud-init' ? planCloudInitIso(input) : planContextIso(input);
}

/** The job's RTE settings for remoteshell (kept in the job state). */
export function rteSetupOf(plan: ProloguePlan): ReturnType<typeof jobRteSetup> | undefined {
  return plan.rte && jobRteSetup(plan.rte.guest);
}

/** The plan as a person reads it in a dry run: secrets left out, files listed with their sizes. */
export function describePlan(plan: ProloguePlan): Record<string, unknown> {
  return {
    jobId: plan.jobId,
    domainName: plan.domainName,
    libvirtUri: plan.libvirtUri,
    template: plan.template,
    jobDir: plan.paths.dir,
    submitter: plan.submitter,
    guestSize: plan.guestSize,
    disks: plan.disks,
    imageCache: plan.images.cacheDir,
    method: plan.method,
    ...(plan.method === 'DISK' ? { diskContext: plan.diskContext } : {}),
    contextIso: {
      file: plan.method === 'ROOTSSH' ? plan.paths.contextTar : plan.method === 'DISK' ? null : plan.paths.isoFile,
      volumeId: plan.iso.volumeId,
      files: plan.iso.files.map((f) => ({ path: f.path, mode: f.mode.toString(8), bytes: Buffer.byteLength(f.content), ...(f.secret ? { secret: true } : {}) })),
      copies: plan.iso.copies,
      unpack: plan.iso.unpack,
    },
    ...(plan.rte
      ? {
          runtimeEnvironments: {
            base: plan.rte.resolution.base,
            vm: plan.rte.resolution.vm,
            packages: plan.rte.resolution.packages.map((p, i) => ({
              ...p,
              ...plan.rte!.packages.find((q) => q.instance === ('instance' in p ? p.instance : undefined)),
              guest: plan.rte!.guest[i],
            })),
          },
        }
      : {}),
    sshChannel: plan.sshSocket ?? null,
    network: plan.staticAddress ?? 'dhcp',
    guestIdentity: plan.guestIdentity,
    readinessTimeoutSeconds: plan.readinessTimeoutMs / 1000,
    guestScriptPath: plan.guestScriptPath,
    interactive: plan.interactive,
    shares: plan.shares,
    ...(plan.changes ? { changes: plan.changes } : {}),
    ...(plan.warm ? { warmStart: 'key' in plan.warm ? { key: plan.warm.key, entry: plan.warm.entry.dir, pool: plan.warmSettings?.pool ?? 0 } : plan.warm } : {}),
    domainXml: plan.domainXml,
  };
}
