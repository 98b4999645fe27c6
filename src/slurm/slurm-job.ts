import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import type { JobDescription } from '../job/job-description.js';
import { allocatedMemoryMiB } from './job-memory.js';
import type { PrologEnv } from './prolog-env.js';
import { parseVmOptions } from './vm-options.js';

/**
 * Slurm's front end: the job slurmd's prolog environment and the SPANK plugin's --vm-* options
 * describe. vCPUs are the CPUs the job has on this node, memory what Slurm allocated it per node;
 * there is no script yet (each task brings its command, the batch step its script).
 */
export async function slurmJobDescription(env: PrologEnv, vmOptionArgs: string[]): Promise<JobDescription> {
  const request = parseVmOptions(vmOptionArgs);
  const memoryMiB = await allocatedMemoryMiB(env.SLURM_JOB_ID);
  const cpus = env.SLURM_JOB_CPUS_PER_NODE;
  return {
    jobId: env.SLURM_JOB_ID,
    user: env.SLURM_JOB_USER,
    group: await groupNameOf(env.SLURM_JOB_GID),
    jobName: env.SLURM_JOB_NAME ?? `slurm-${env.SLURM_JOB_ID}`,
    workdir: env.SLURM_JOB_WORK_DIR,
    request,
    size: {
      ...(cpus !== undefined ? { vcpus: cpus } : {}),
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      allocation: true,
      origin: { ...(cpus !== undefined ? { vcpus: `${cpus} CPU(s) on this node` } : {}), ...(memoryMiB !== undefined ? { memory: `${memoryMiB} MiB allocated on this node` } : {}) },
    },
    script: { kind: 'per-task' },
    concurrentSessions: true,
  };
}

// The name of the job's group (the guest reproduces it); slurmd gives only its id.
async function groupNameOf(gid: number): Promise<string> {
  const gr = await runTool(['getent', 'group', String(gid)], { okExitCodes: [2] });
  const name = gr.stdout.trim().split(':')[0];
  if (gr.exitCode === 2 || !name) throw new VmbatchError('SLURM_ENVIRONMENT_INVALID', { hook: 'prolog', problems: [`SLURM_JOB_GID=${gid} is no group this node knows (getent group found nothing)`] });
  return name;
}
