import { z } from 'zod';

const seconds = (max: number) => z.number().positive().max(max);

/** The `images` part of the configuration. */
export const imagesSchema = z
  .object({
    /** shared image cache (may be on NFS, shared by nodes); default: STATEDIR/cache */
    cacheDir: z.string().startsWith('/').optional(),
    /** where a relative <vbdisksource source=...> is found: an http(s):// URL or a file:/// directory, ending in '/' */
    siteBase: z
      .string()
      .url()
      .refine((u) => /^(https?|file):\/\/.*\/$/.test(u), { message: "must be an http://, https:// or file:/// URL ending in '/'" })
      .optional(),
    /** the site's policy for images submitters choose with vbuserimage; no file = none allowed */
    userImagePolicy: z.string().startsWith('/').default('/etc/vmbatch/user-images.json'),
    /** a download fails when no byte arrives for this long (connect, headers, body) */
    stallTimeoutSeconds: seconds(3600).default(30),
    /** redirects followed before a download fails */
    maxRedirects: z.number().int().min(0).max(20).default(5),
    /** how long a job waits for the first job of a create='once' disk to hand it over */
    createOnceWaitSeconds: z.number().min(0).max(280).default(0),
    /** largest virtual size of a template's image (MiB): a guest can fill up to that much of STATEDIR */
    maxVirtualSizeMiB: z.number().int().positive().default(262144),
    /** the users (names or uids) whose jobs may seed a create='once' disk; every other job's writes stay in its own overlay */
    createOnceSeeders: z.array(z.union([z.string().min(1), z.number().int().nonnegative()])).default([]),
    /** a PEM file of extra certificate authorities trusted for https downloads (images and catalogues) */
    caFile: z.string().startsWith('/').optional(),
  })
  .strict();

const patterns = z.union([
  z
    .string()
    .min(1)
    .transform((s) => [s]),
  z.array(z.string().min(1)),
]);

/** The `catalogue` part of the configuration: the software catalogues and the site's rules (the Janitor's). */
export const catalogueSchema = z
  .object({
    /** RDF/XML catalogues, in priority order: absolute paths, or http(s) URLs (cached in CACHE/catalogues) */
    sources: z.array(z.string().refine((s) => s.startsWith('/') || /^https?:\/\//.test(s), { message: 'must be an absolute path or an http(s):// URL' })).default([]),
    /** a cached remote catalogue older than this is fetched again (an unreachable server: the cached copy is used) */
    refreshSeconds: z.number().int().min(0).default(3600),
    /** glob rules (`*`, `?`) on base system names: allowed when an allow rule matches and no deny rule does */
    allowBase: patterns.default(['*']),
    denyBase: patterns.default([]),
    /** the same on runtime environment (MetaPackage) names */
    allowRte: patterns.default(['*']),
    denyRte: patterns.default([]),
    /** an installed package unused for this long is swept (the Janitor's rteexpirytime; default 3 days) */
    rteExpirySeconds: z
      .number()
      .int()
      .min(0)
      .default(3 * 24 * 3600),
    /** a package's install reported failing by the guests of this many different users' jobs is marked FAILED for all (a guest is its submitter's to forge) */
    failuresToMarkFailed: z.number().int().min(1).default(2),
  })
  .strict();

const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be an IPv4 address like 10.0.2.20');

/** How guests get their network: DHCP, or static addresses from this node's pool. */
export const networkSchema = z
  .object({
    mode: z.enum(['dhcp', 'static']).default('dhcp'),
    /** the pool: these addresses ... */
    addresses: z.array(ipv4).optional(),
    /** ... or `count` successive addresses from `base` */
    base: ipv4.optional(),
    count: z.number().int().positive().max(65536).optional(),
    prefixLength: z.number().int().min(1).max(32).default(24),
    gateway: ipv4.optional(),
    dns: z.array(ipv4).default([]),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (n.mode !== 'static') return;
    const list = n.addresses !== undefined;
    const range = n.base !== undefined || n.count !== undefined;
    if (list === range) ctx.addIssue({ code: 'custom', message: 'static mode needs either addresses: [...] or base: and count:' });
    else if (range && (n.base === undefined || n.count === undefined)) ctx.addIssue({ code: 'custom', message: 'base: and count: go together' });
    if (n.addresses && n.addresses.length === 0) ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'lists no address' });
    const dup = n.addresses?.find((a, i) => n.addresses!.indexOf(a) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['addresses'], message: `lists ${dup} twice` });
    if (n.base && n.count && n.base.split('.').reduce((v, o) => v * 256 + Number(o), 0) + n.count - 1 > 0xffffffff) {
      ctx.addIssue({ code: 'custom', path: ['count'], message: `${n.count} addresses from ${n.base} go past 255.255.255.255` });
    }
  });

// The first uid above every 16-bit id (system, regular, systemd's dynamic users, nobody) and the
// largest valid uid_t (4294967295 is (uid_t)-1); a pool larger than this many uids is a typo.
const guestUidMin = 65536;
const guestUidMax = 4294967294;
const guestPoolMax = 65536;

/**
 * Who each guest's qemu runs as: one uid of the pool per job (no real user may have them) and
 * a group all guests share. The default pool lies in systemd's unused range 1879048192-2063597567:
 * above Debian's subordinate uids (SUB_UID_MAX 600100000) and systemd-nspawn's container ranges,
 * below 2^31 (some software keeps uids in a signed 32-bit int).
 */
export const guestIdentitySchema = z
  .object({
    uids: z
      .object({ first: z.number().int().min(guestUidMin).max(guestUidMax), last: z.number().int().min(guestUidMin).max(guestUidMax) })
      .strict()
      .refine((r) => r.first <= r.last, { message: 'first must not be greater than last' })
      .refine((r) => r.last - r.first < guestPoolMax, { message: `a pool holds at most ${guestPoolMax} uids` })
      .default({ first: 1900000000, last: 1900000999 }),
    /** the group of every guest's qemu (resolved with getent): shared read-only inputs may be root:GROUP 0640 */
    group: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a group name')
      .default('libvirt-qemu'),
  })
  .strict();

/** The site configuration of vmbatch (/etc/vmbatch/vmbatch.json); every key has a default. */
export const configSchema = z
  .object({
    /** libvirt connection URI the hooks drive */
    libvirtUri: z.string().min(1).default('qemu:///system'),
    /** directory of the admin's domain templates (*.xml) */
    domainsDir: z.string().startsWith('/').default('/etc/vmbatch/domains'),
    /** template used when the job names none (file name without .xml) */
    defaultDomain: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .default('testguest'),
    /** per-job state: overlays, context ISO, keys, console log */
    stateDir: z.string().startsWith('/').default('/var/lib/vmbatch'),
    /** structured log lines of every hook; empty to disable */
    logFile: z.string().default('/var/log/vmbatch/vmbatch.log'),
    /** how long the guest may take to report ready */
    readinessTimeoutSeconds: z.number().int().positive().default(120),
    /** the whole prologue's budget; must stay below pbs_mom's $prologalarm (300 s by default) */
    prologueBudgetSeconds: z.number().int().positive().max(290).default(240),
    /** prologue attempts per job before a transient failure aborts instead of requeueing */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** obsolete and ignored: guests are reached over a per-job unix socket, no host port (kept so older configurations load) */
    sshForwardPorts: z.unknown().optional(),
    /** guest directory for the job script when the template has no <vbjobpath> */
    guestJobPath: z.string().startsWith('/').default('/var/spool/vmbatch/jobs'),
    /** write why a job was aborted or requeued into the job's working directory, as the submitter */
    submitterNotice: z.boolean().default(true),
    /** where a relative <vbtarfile tarfile=...> is found (the site's context bundles) */
    contextFilesDir: z.string().startsWith('/').default('/etc/vmbatch/context'),
    /** ROOTSSH: the site's key for root logins into guests, and the guests' host keys the host accepts */
    rootSsh: z
      .object({
        privateKeyFile: z.string().startsWith('/').default('/etc/vmbatch/root_ssh_key'),
        /** OpenSSH public key lines, one per line: the host keys guest images present */
        hostKeysFile: z.string().startsWith('/').default('/etc/vmbatch/guest_host_keys.pub'),
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]*$/)
          .default('root'),
      })
      .strict()
      .default({}),
    /** guests' network: DHCP (default) or static addresses from this node's pool */
    network: networkSchema.default({}),
    /** disk images: the shared cache, where relative sources live, downloads, submitter images */
    images: imagesSchema.default({}),
    /** software catalogues: runtime environments a job requests with vbrte */
    catalogue: catalogueSchema.default({}),
    /** the batch system, as `vmbatch reconcile` asks it which jobs it still has on this node */
    torque: z
      .object({
        /** pbs_mom's mom_priv: a job is still there while mom_priv/jobs/JOBID.JB or JOBID.SC exists; not set: no oracle */
        momPriv: z.string().startsWith('/').optional(),
      })
      .strict()
      .default({}),
    /** host directories guests see (<vbshare>): which site paths templates may share, and how */
    shares: z
      .object({
        /** site paths (e.g. /scratch) a template may name in <vbshare source=...>; the job's working directory and home need no entry */
        allowedPaths: z
          .array(
            z
              .string()
              .startsWith('/', 'must be an absolute path')
              .refine((p) => p !== '/', "must not be '/'"),
          )
          .default([]),
        /** false: nothing is shared while jobs run (a site that forbids shares): working directories are staged, other shares refused */
        virtiofs: z.boolean().default(true),
        /** the most a guest may send back when a staged working directory is copied out (MiB): a larger or endless stream is cut there */
        stageOutMaxMiB: z.number().int().positive().default(10240),
        /** the virtiofs daemon (Debian 12: qemu-system-common) */
        virtiofsd: z.string().startsWith('/').default('/usr/lib/qemu/virtiofsd'),
      })
      .strict()
      .default({}),
    /** submitters' saved changes (vbsavechanges / vbchanges): where they live, how big, which templates allow them */
    changes: z
      .object({
        /** where a submitter's layers are, relative to their home (NAME.qcow2 and its record NAME.json) */
        dir: z
          .string()
          .min(1)
          .refine((d) => !d.startsWith('/') && !d.split('/').includes('..'), 'must be a path relative to the home, without ..')
          .default('.vmbatch/changes'),
        /** the largest layer saved or booted (MiB of the compressed file) */
        maxSizeMiB: z.number().int().positive().default(2048),
        /** the templates whose jobs may save or boot changes (names without .xml); empty: none; default: every template */
        templates: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/)).optional(),
      })
      .strict()
      .default({}),
    /** whether a submitter may be root in their own guest (vbroot=yes: sudo there): never, only jobs that save changes (vbsavechanges), or every job */
    guestRoot: z.enum(['never', 'saving-changes', 'always']).default('never'),
    /** each guest's qemu identity: a uid of this pool per job, one shared group */
    guestIdentity: guestIdentitySchema.default({}),
    /** libvirt's per-domain qemu logs (NAME.log): read for why a guest stopped, then removed with the job */
    libvirtLog: z
      .object({
        /** where libvirt writes them (qemu:///system: /var/log/libvirt/qemu) */
        dir: z.string().startsWith('/').default('/var/log/libvirt/qemu'),
        /** keep each job's log after the job (the site then rotates and expires them itself) */
        keep: z.boolean().default(false),
      })
      .strict()
      .default({}),
  })
  .strict();

/** The validated configuration. */
export type Config = z.infer<typeof configSchema>;
