import { z } from 'zod';
import { absolutePathSchema } from '../job/names.js';

const hashFunctions = ['md5', 'sha1', 'sha256', 'sha512'] as const;
const hexLength: Record<(typeof hashFunctions)[number], number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** The hash algorithm a `hashfunction` attribute names: a tool path like /usr/bin/md5sum or an algorithm. */
export function hashAlgorithm(hashfunction: string): (typeof hashFunctions)[number] | undefined {
  const base = hashfunction.split('/').pop()!.replace(/sum$/, '').toLowerCase();
  return (hashFunctions as readonly string[]).includes(base) ? (base as (typeof hashFunctions)[number]) : undefined;
}

// a count or MiB in an attribute: digits only (no signs, exponents or fractions), at least 1
const wholeNumber = z
  .string()
  .regex(/^[0-9]+$/, 'must be a whole number of at least 1')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be a whole number of at least 1').max(Number.MAX_SAFE_INTEGER, 'is too large'))
  .optional();

const text = (schema: z.ZodTypeAny) => z.object({ text: schema, attrs: z.object({}).strict() });

/** Attribute (and text) schemas of every vb* tag, with the element each may stand in. */
export const vbTags = {
  vbconfig: { parent: 'domain', schema: z.object({ text: z.string(), attrs: z.object({}).strict() }) },
  vbpreparemethod: { parent: 'vbconfig', schema: text(z.enum(['CDROM', 'DISK', 'ROOTSSH'])) },
  vbhypervisor: { parent: 'vbconfig', schema: text(z.enum(['XEN3', 'XEN4', 'KVM', 'QEMU'])) },
  vbjobpath: { parent: 'vbconfig', schema: text(absolutePathSchema) },
  vbreadiness: {
    parent: 'vbconfig',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          method: z.enum(['console']).default('console'),
          device: absolutePathSchema.default('/dev/ttyS0'),
          timeout: z.coerce.number().int().positive().optional(),
        })
        .strict(),
    }),
  },
  vbremoteshell: {
    parent: 'vbconfig',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          /** ssh: the job runs over SSH as the user; console: on a serial console the guest logs the user in on */
          mode: z.enum(['ssh', 'console']).default('ssh'),
          device: absolutePathSchema.default('/dev/ttyS1'),
        })
        .strict(),
    }),
  },
  /** the catalogue's VirtualMachine MetaPackage this template realises (by name); may repeat */
  vbcatalogue: {
    parent: 'vbconfig',
    schema: z.object({ text: z.string(), attrs: z.object({ vm: z.string().min(1) }).strict() }),
  },
  /** the guest sizes jobs may ask for (vCPUs, memory in MiB); the template's <vcpu> and <memory> are the default */
  vbsize: {
    parent: 'vbconfig',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({ mincpus: wholeNumber, maxcpus: wholeNumber, minmemory: wholeNumber, maxmemory: wholeNumber })
        .strict()
        .superRefine((a, ctx) => {
          if (a.mincpus !== undefined && a.maxcpus !== undefined && a.mincpus > a.maxcpus) ctx.addIssue({ code: 'custom', message: `mincpus='${a.mincpus}' is more than maxcpus='${a.maxcpus}'` });
          if (a.minmemory !== undefined && a.maxmemory !== undefined && a.minmemory > a.maxmemory)
            ctx.addIssue({ code: 'custom', message: `minmemory='${a.minmemory}' is more than maxmemory='${a.maxmemory}'` });
        }),
    }),
  },
  /** a host directory the guest sees at the same path: the job's working directory, the submitter's home or a site path; may repeat */
  vbshare: {
    parent: 'vbconfig',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          source: z.string().superRefine((source, ctx) => {
            if (source === 'workdir' || source === 'home') return;
            const absolute = absolutePathSchema.safeParse(source);
            const problem = !source.startsWith('/') ? 'must be workdir, home or an absolute path like /scratch' : absolute.success ? undefined : absolute.error.issues[0]!.message;
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
          mode: z.enum(['rw', 'ro']).default('rw'),
          /** virtiofs: shared while the job runs; stage: copied in before the job and back after it (workdir only) */
          method: z.enum(['virtiofs', 'stage']).default('virtiofs'),
        })
        .strict()
        .superRefine((a, ctx) => {
          if (a.method === 'stage' && a.source !== 'workdir')
            ctx.addIssue({ code: 'custom', message: `method='stage' copies the working directory only; source='${a.source}' must be shared (method='virtiofs')` });
          if (a.source === '/') ctx.addIssue({ code: 'custom', message: "source='/' would give the guest the node's whole file system" });
        }),
    }),
  },
  /** warm start: jobs restore a saved, booted copy of this guest instead of booting it (docs/admin.md, "Warm start") */
  vbwarmstart: {
    parent: 'vbconfig',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          /** restored guests kept paused, waiting for jobs (0: none) */
          pool: z
            .string()
            .regex(/^[0-9]+$/, 'must be a whole number (0 for no pool)')
            .transform(Number)
            .pipe(z.number().int().max(16, 'is more than 16 waiting guests'))
            .default('0'),
          /** seconds a waiting guest may wait for a job before it is ended */
          idle: z
            .string()
            .regex(/^[0-9]+$/, 'must be a whole number of seconds')
            .transform(Number)
            .pipe(z.number().int().min(60, 'must be at least 60 seconds'))
            .default('3600'),
          /** who makes the saved state: the admin (`vmbatch warm build`), or also the first job that finds none (in the background, after its own boot) */
          build: z.enum(['admin', 'auto']).default('admin'),
        })
        .strict(),
    }),
  },
  vbtarfiles: { parent: 'vbconfig', schema: z.object({ text: z.string(), attrs: z.object({}).strict() }) },
  vbtarfile: {
    parent: 'vbtarfiles',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          tarfile: z.string().min(1),
          path: z.string().default('.'),
          strip: z.coerce.number().int().nonnegative().default(0),
          option: z.enum(['cdrom']).optional(),
        })
        .strict(),
    }),
  },
  vbdisks: { parent: 'devices', schema: z.object({ text: z.string(), attrs: z.object({}).strict() }) },
  vbdisk: {
    parent: 'vbdisks',
    schema: z.object({
      text: z.string(),
      attrs: z.object({ name: z.string().min(1), dev: z.string().min(1), partition: z.string().min(1) }).strict(),
    }),
  },
  /** SSH to the guest over a virtio-serial port whose host side is a per-job unix socket (only the submitter and root may open it) */
  vbsshchannel: { parent: 'devices', schema: z.object({ text: z.string(), attrs: z.object({}).strict() }) },
  vbdisksource: {
    parent: 'disk',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          source: z.string().min(1),
          copy_method: z.enum(['download', 'shared']).optional(),
          size: z.coerce.number().int().positive().optional(),
          create: z.enum(['always', 'once']).optional(),
          format: z.enum(['raw', 'qcow2', 'qcow', 'vhd', 'vpc', 'vhd-util-vhd']).optional(),
        })
        .strict()
        .superRefine((a, ctx) => {
          if (a.create && a.size === undefined) ctx.addIssue({ code: 'custom', message: 'create= needs size= (MiB)' });
          if (a.size !== undefined && !a.create) ctx.addIssue({ code: 'custom', message: "size= needs create='always' or create='once'" });
          if (a.create && a.copy_method) ctx.addIssue({ code: 'custom', message: 'copy_method= and create= exclude each other' });
          if (!a.create && !a.copy_method) ctx.addIssue({ code: 'custom', message: "needs copy_method='download|shared' or create='always|once'" });
          if (a.format && !a.create) ctx.addIssue({ code: 'custom', message: "format= is for created disks (create=...); a fetched image's format is <driver type=...>" });
        }),
    }),
  },
  vbcheckhash: {
    parent: 'disk',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({ hashfunction: z.string().min(1), hashvalue: z.string().regex(/^[0-9a-fA-F]+$/, 'must be hexadecimal') })
        .strict()
        .superRefine((a, ctx) => {
          const algo = hashAlgorithm(a.hashfunction);
          if (!algo) ctx.addIssue({ code: 'custom', message: `hashfunction '${a.hashfunction}' is not one of md5, sha1, sha256, sha512 (or their *sum tool paths)` });
          else if (a.hashvalue.length !== hexLength[algo]) ctx.addIssue({ code: 'custom', message: `hashvalue must have ${hexLength[algo]} hex digits for ${algo}, not ${a.hashvalue.length}` });
        }),
    }),
  },
  vbuserimage: {
    parent: 'disk',
    schema: z.object({ text: z.string(), attrs: z.object({}).strict() }),
  },
  vbpreparecdrom: {
    parent: 'disk',
    schema: z.object({
      text: z.string(),
      attrs: z
        .object({
          source: z.string().min(1),
          /** 'vmbatch': prolog.sh and vmbatch.env (VmBatch, CernVM/HEPiX); 'cloud-init': a NoCloud cidata seed */
          style: z.enum(['vmbatch', 'cloud-init']).default('vmbatch'),
        })
        .strict(),
    }),
  },
} as const;

/** vb* tags vmbatch no longer takes, with why and what to write instead (a template naming one is refused). */
export const retiredVbTags: Record<string, string> = {
  vbsshforward:
    "is no longer supported: its SSH forward is a TCP port on the host's loopback, which every local user can reach and take first (the job then fails to start); write <vbsshchannel/> instead: SSH over a virtio-serial port whose host side is a unix socket only the submitter and root may open",
};

/** The name of a vb* tag. */
export type VbTagName = keyof typeof vbTags;
/** The validated attributes of a vb* tag. */
export type VbAttrs<T extends VbTagName> = z.infer<(typeof vbTags)[T]['schema']>['attrs'];
