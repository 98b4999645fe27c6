import { availableParallelism, totalmem } from 'node:os';

/** What this node has for one guest: its online CPUs and its memory (MemTotal), in MiB. */
export interface NodeCapacity {
  cpus: number;
  memoryMiB: number;
}

/** This node's capacity: the CPUs this process may run on (affinity, cgroups) and MemTotal. */
export function nodeCapacity(): NodeCapacity {
  return { cpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / 1048576) };
}
