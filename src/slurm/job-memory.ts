import { VmbatchError } from '../errors/vmbatch-error.js';
import { runScontrol } from './scontrol.js';

const unitMiB: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 * 1024 * 1024 };

/**
 * The memory Slurm allocated to a job on each of its nodes, in MiB: the `mem` of its allocated
 * TRES divided among its nodes. slurmd does not tell the prolog, so this asks the controller
 * once per job start (`scontrol -o show job`); undefined when the job has no memory allocation
 * (a cluster that does not schedule memory: the template's default then applies).
 */
export async function allocatedMemoryMiB(jobId: string): Promise<number | undefined> {
  const { stdout } = await runScontrol(['-o', 'show', 'job', jobId]);
  return memoryOfJobRecord(jobId, stdout);
}

/** The per-node memory in a job record of `scontrol -o show job` (see allocatedMemoryMiB). */
export function memoryOfJobRecord(jobId: string, record: string): number | undefined {
  const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(record)?.[1];
  if (field('JobId') !== jobId) throw new VmbatchError('SLURM_COMMAND_FAILED', { argv: ['scontrol', '-o', 'show', 'job', jobId], exitCode: 0, stderr: `no record of job ${jobId} in its answer` });
  const mem = /(?:^|,)mem=([0-9.]+)([KMGTP])(?:,|$)/.exec(field('TRES') ?? '');
  if (!mem) return undefined;
  const nodes = Math.max(1, Number(field('NumNodes')?.split('-')[0] ?? '1') || 1);
  return Math.ceil((Number(mem[1]) * unitMiB[mem[2]!]!) / nodes);
}
