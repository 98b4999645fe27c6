import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';

// one message per bad name: the first rule it breaks
const rteNameSchema = z.string().superRefine((n, ctx) => {
  const problem =
    n === ''
      ? 'has an empty name (two + in a row, or one at an end)'
      : !/^[A-Za-z0-9._/+-]+$/.test(n)
        ? "must be names of letters, digits, '.', '_', '-', '/' or %2B-escaped '+'"
        : n.split('/').some((seg) => seg === '' || seg === '..' || seg === '.')
          ? "must not have empty, '.' or '..' path segments"
          : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A name of a submitter's saved changes: a file name in their changes directory. */
export const changesNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a name of letters, digits, '.', '_' or '-' (at most 64, not starting with '.', '_' or '-')");

/** `vbrte=A+B+C`: the requested runtime environment names, in order, duplicates dropped. */
export const rteListSchema = z
  .string()
  .transform((value) => value.split('+').map((n) => n.replace(/%2B/gi, '+')))
  .pipe(z.array(rteNameSchema))
  .transform((names) => [...new Set(names)]);

/** The vmbatch settings a submitter may give in `-l other=...`. */
export const jobRequestSchema = z
  .object({
    /** domain template to boot (file name in domainsDir without .xml) */
    vbdomain: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, "must be a template name of letters, digits, '.', '_' or '-'")
      .optional(),
    /** a guest image URL chosen by the submitter (subject to the site's user image policy) */
    vbuserimage: z.string().min(1).optional(),
    /** the expected digest of vbuserimage, as ALGO:HEX (md5, sha1, sha256, sha512) */
    vbuserimagehash: z.string().min(1).optional(),
    /** runtime environments from the site's catalogues, joined by '+' (a '+' inside a name is %2B) */
    vbrte: rteListSchema.optional(),
    /** yes: the working directory is copied into the guest before the job and back after it, instead of shared */
    vbstage: z.enum(['yes', 'no'], { errorMap: () => ({ message: 'must be yes (copy the working directory in and out) or no' }) }).optional(),
    /** boot from the submitter's saved changes of this name, or at this http(s) URL (with vbchangeshash), over the template's base (docs/submitters.md, "Your own changes") */
    vbchanges: z
      .union([changesNameSchema, z.string().regex(/^https?:\/\//i)], {
        errorMap: () => ({ message: "must be a name of letters, digits, '.', '_' or '-' (at most 64, not starting with '.', '_' or '-'), or an http:// or https:// URL" }),
      })
      .optional(),
    /** the expected digest of a vbchanges URL, as ALGO:HEX */
    vbchangeshash: z.string().min(1).optional(),
    /** save what the job changed on the guest's disk, over the template's base, as the submitter's layer of this name */
    vbsavechanges: changesNameSchema.optional(),
    /** yes: the submitter is root in their guest (sudo), where the site allows it (guestRoot) */
    vbroot: z.enum(['yes', 'no'], { errorMap: () => ({ message: 'must be yes (you may use sudo in the guest) or no' }) }).optional(),
    /** the base system the RTEs must run on: a BaseSystem's name or one it provides (e.g. Debian.) */
    vbbase: z.string().min(1).optional(),
  })
  .strict();
/** What the job asked of vmbatch. */
export type JobRequest = z.infer<typeof jobRequestSchema>;

/** The parsed resource list: Torque resources by name, and the vmbatch request from `other`. */
export interface ResourceList {
  resources: Record<string, string>;
  /** every name=value in the order given, repeats included (pbs_mom may add a default nodes=1) */
  entries: [string, string][];
  request: JobRequest;
}

/**
 * Parses pbs_mom's comma-joined resource list (prologue argv[5]). A piece that does not start
 * with `name=` continues the previous value (a comma inside a value, which Torque cannot quote;
 * a comma followed by `name=` inside a value stays ambiguous: percent-encode it as %2C).
 * Inside `other`, vmbatch settings are `vbNAME=value` joined by ':' (a ':' only splits where a
 * new `vb...=` follows, so URLs keep theirs).
 */
export function parseResourceList(list: string): ResourceList {
  const resources: Record<string, string> = {};
  // every `other=` value as given: a second one would silently replace the first
  const others: string[] = [];
  const entries: [string, string][] = [];
  let last: string | undefined;
  for (const piece of list.split(',')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(piece);
    if (m?.[1] !== undefined) {
      last = m[1];
      resources[last] = m[2] ?? '';
      entries.push([last, m[2] ?? '']);
      if (last === 'other') others.push(m[2] ?? '');
    } else if (last !== undefined) {
      resources[last] += `,${piece}`;
      entries[entries.length - 1]![1] += `,${piece}`;
      if (last === 'other') others[others.length - 1] += `,${piece}`;
    }
  }
  if (others.length > 1) {
    const given = others.map((o) => `'${o}'`).join(', ');
    throw new VmbatchError('RESOURCE_INVALID', { problems: [`other= is given ${others.length} times (${given}); give every vb setting in one other=, joined with ':'`] });
  }
  return { resources, entries, request: parseOther(resources.other ?? '') };
}

/** Parses the value of `other`: `vbkey=value` settings joined by ':'; other text is not vmbatch's. */
export function parseOther(other: string): JobRequest {
  const settings: Record<string, string> = {};
  const problems: string[] = [];
  if (other.trim() !== '') {
    for (const item of other.split(/:(?=vb[a-z]+=)/)) {
      const m = /^(vb[a-z]+)=(.*)$/s.exec(item);
      if (!m?.[1]) continue; // `other` is shared with other tools: only vb* settings are ours
      if (m[1] in settings) problems.push(`${m[1]} is given twice`);
      settings[m[1]] = m[2] ?? '';
    }
  }
  const parsed = jobRequestSchema.safeParse(settings);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        problems.push(`unknown setting(s) ${issue.keys.join(', ')} (known: ${Object.keys(jobRequestSchema.shape).join(', ')})`);
      } else problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  }
  if (problems.length) throw new VmbatchError('RESOURCE_INVALID', { problems });
  return parsed.success ? parsed.data : {};
}
