import { VmbatchError } from '../errors/vmbatch-error.js';
import { jobRequestSchema, type JobRequest } from '../job/resources.js';

/** Slurm's --vm-* options (SPANK, slurm/vmbatch_spank.c) and the request setting each one is. */
export const vmOptions = {
  'vm-domain': 'vbdomain',
  'vm-image': 'vbuserimage',
  'vm-image-hash': 'vbuserimagehash',
  'vm-rte': 'vbrte',
  'vm-base': 'vbbase',
  'vm-stage': 'vbstage',
  'vm-changes': 'vbchanges',
  'vm-save-changes': 'vbsavechanges',
  'vm-changes-hash': 'vbchangeshash',
  'vm-root': 'vbroot',
} as const satisfies Record<string, keyof JobRequest>;

const optionOf = Object.fromEntries(Object.entries(vmOptions).map(([option, key]) => [key, option])) as Record<string, string>;

/**
 * The request a Slurm job's --vm-* options make, as the SPANK plugin hands them to the prolog
 * (`--vm-NAME=VALUE`, one argument each). The submitter wrote them (the plugin checked only
 * their syntax): every problem is reported at once, in the options' own names.
 */
export function parseVmOptions(argv: string[]): JobRequest {
  const settings: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of argv) {
    const m = /^--(vm-[a-z-]+)=(.*)$/s.exec(arg);
    const key = m && (vmOptions as Record<string, string>)[m[1]!];
    if (!m || !key) {
      problems.push(
        `${JSON.stringify(arg)} is not a vmbatch option (known: ${Object.keys(vmOptions)
          .map((o) => `--${o}`)
          .join(', ')})`,
      );
      continue;
    }
    if (key in settings) problems.push(`--${m[1]} is given twice`);
    settings[key] = m[2]!;
  }
  const parsed = jobRequestSchema.safeParse(settings);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]);
      problems.push(`--${optionOf[key] ?? key}=${settings[key] ?? ''}: ${issue.message}`);
    }
  }
  if (problems.length) throw new VmbatchError('VM_OPTION_INVALID', { problems });
  return parsed.success ? parsed.data : {};
}
