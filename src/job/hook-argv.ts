import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { absolutePathSchema, jobIdSchema, posixNameSchema } from './names.js';

/** The prologue's arguments as pbs_mom passes them (argv[1..8]). */
export const prologueArgvSchema = z.object({
  jobId: jobIdSchema,
  user: posixNameSchema,
  group: posixNameSchema,
  jobName: z.string(),
  resources: z.string(),
  queue: z.string(),
  account: z.string(),
  scriptPath: absolutePathSchema,
});
/** Validated prologue arguments. */
export type PrologueArgs = z.infer<typeof prologueArgvSchema>;

/** The epilogue's arguments as pbs_mom passes them (argv[1..11]). */
export const epilogueArgvSchema = z.object({
  jobId: jobIdSchema,
  user: posixNameSchema,
  group: posixNameSchema,
  jobName: z.string(),
  sessionId: z.string(),
  resources: z.string(),
  resourcesUsed: z.string(),
  queue: z.string(),
  account: z.string(),
  exitStatus: z.string().regex(/^-?[0-9]+$/, 'must be an integer'),
  scriptPath: z.string(),
});
/** Validated epilogue arguments. */
export type EpilogueArgs = z.infer<typeof epilogueArgvSchema>;

const prologueLabels = ['job id', 'user', 'group', 'job name', 'resource list', 'queue', 'account', 'job script'];
const epilogueLabels = ['job id', 'user', 'group', 'job name', 'session id', 'resources requested', 'resources used', 'queue', 'account', 'exit status', 'job script'];

/** Validates the prologue's argv (without node and script), reporting every problem at once. */
export function parsePrologueArgv(argv: string[]): PrologueArgs {
  return parseHookArgv('prologue', argv, prologueArgvSchema, prologueLabels);
}

/** Validates the epilogue's argv (without node and script), reporting every problem at once. */
export function parseEpilogueArgv(argv: string[]): EpilogueArgs {
  return parseHookArgv('epilogue', argv, epilogueArgvSchema, epilogueLabels);
}

function parseHookArgv<T extends z.ZodRawShape>(hook: string, argv: string[], schema: z.ZodObject<T>, labels: string[]): z.infer<z.ZodObject<T>> {
  const keys = Object.keys(schema.shape);
  if (argv.length !== keys.length) {
    throw new VmbatchError('HOOK_ARGV_INVALID', {
      hook,
      problems: [`expected ${keys.length} arguments (${labels.join(', ')}), got ${argv.length}`],
    });
  }
  const record = Object.fromEntries(keys.map((k, i) => [k, argv[i]]));
  const parsed = schema.safeParse(record);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const index = keys.indexOf(String(issue.path[0]));
    return `argv[${index + 1}] (${labels[index]}) ${JSON.stringify(argv[index])} ${issue.message}`;
  });
  throw new VmbatchError('HOOK_ARGV_INVALID', { hook, problems });
}
