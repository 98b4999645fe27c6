import { z } from 'zod';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { posixNameSchema } from '../job/names.js';

const decimal = z.string().regex(/^[0-9]{1,10}$/, 'must be a decimal number');

/** A Slurm job id as slurmd and slurmstepd give it (an array task has its own). */
export const slurmJobIdSchema = z.string().regex(/^[0-9]{1,10}$/, 'must be a Slurm job id (digits)');

/**
 * What slurmd puts in the environment of a job's prolog and epilog (and so of the SPANK
 * plugin's job_prolog/job_epilog, which run vmbatch): the job, its user and group ids, its
 * working directory, the CPUs it has on this node and how often it was requeued. slurmd sets
 * them from the controller's record of the job; the submitter chose the working directory.
 */
export const prologEnvSchema = z.object({
  SLURM_JOB_ID: slurmJobIdSchema,
  SLURM_JOB_USER: posixNameSchema,
  SLURM_JOB_UID: decimal.transform(Number),
  SLURM_JOB_GID: decimal.transform(Number),
  SLURM_JOB_WORK_DIR: z.string().optional(),
  /** `N` or Slurm's compressed list `N(xK),M`: this node is the job's first, the guest's vCPUs N */
  SLURM_JOB_CPUS_PER_NODE: z
    .string()
    .regex(/^[0-9]+(\(x[0-9]+\))?(,[0-9]+(\(x[0-9]+\))?)*$/, 'must be a CPU count like 2 or 2(x3),1')
    .transform((v) => Number(/^[0-9]+/.exec(v)![0]))
    .optional(),
  SLURM_JOB_RESTART_COUNT: decimal.transform(Number).default('0'),
  SLURM_JOB_NAME: z.string().optional(),
});
/** The validated prolog environment. */
export type PrologEnv = z.infer<typeof prologEnvSchema>;

/** Validates the prolog's (or epilog's) environment, reporting every problem at once. */
export function parsePrologEnv(env: NodeJS.ProcessEnv, hook: 'prolog' | 'epilog'): PrologEnv {
  return parseSlurmEnv(prologEnvSchema, env, hook);
}

/** Validates what Slurm (and the SPANK plugin) put in a hook's environment, naming each variable that is missing or wrong. */
export function parseSlurmEnv<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv, hook: 'prolog' | 'epilog' | 'task'): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data as z.output<S>;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const value = env[name];
    return value === undefined ? `${name} is not set` : `${name}=${JSON.stringify(value)} ${issue.message}`;
  });
  throw new VmbatchError('SLURM_ENVIRONMENT_INVALID', { hook, problems });
}
