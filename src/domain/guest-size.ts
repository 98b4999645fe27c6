import { basename } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobSize } from '../job/job-size.js';
import type { NodeCapacity } from './node-capacity.js';
import type { SizeBound, SizeRange, TemplateSize } from './template-size.js';

/** The size a job's guest gets, and where each value came from (printed by a dry run). */
export interface GuestSize {
  vcpus: number;
  memoryMiB: number;
  from: { vcpus: string; memory: string };
}

/** Memory a guest must have whatever the job asks: the catalogue VM's need (kb:mem_kb). */
export interface MemoryFloor {
  memoryMiB: number;
  source: string;
}

const plural = (n: number, unit: 'vCPU' | 'MiB') => (unit === 'MiB' ? `${n} MiB` : `${n} vCPU${n === 1 ? '' : 's'}`);

/**
 * Resolves a job's request against its template's limits on this node: what is not asked for is
 * the template's default; a request below the minimum gets the minimum; a request above the
 * maximum is refused (JOB_SIZE_TOO_LARGE, every dimension at once), never shrunk. Without a
 * maximum in the template, the node's capacity is the maximum (or the default, when larger).
 */
export function resolveGuestSize(template: { file: string; size: TemplateSize }, request: JobSize, node: NodeCapacity, floor?: MemoryFloor): GuestSize {
  const problems: string[] = [];
  const vcpus = resolve(template.size.vcpus, request.vcpus, request.origin.vcpus, { value: node.cpus, source: 'the CPUs online on this node' }, 'vCPU', problems, request.allocation);
  let memoryAsked = request.memoryMiB;
  let memoryWords = request.origin.memory;
  if (request.memoryPerVcpuMiB !== undefined) {
    // per-CPU memory counts the guest's vCPUs, whatever set them
    memoryAsked = request.memoryPerVcpuMiB * vcpus.value;
    memoryWords = `${request.origin.memory ?? `${request.memoryPerVcpuMiB} MiB per vCPU`} × ${plural(vcpus.value, 'vCPU')}`;
  }
  const memory = resolve(template.size.memoryMiB, memoryAsked, memoryWords, { value: node.memoryMiB, source: "this node's memory (MemTotal)" }, 'MiB', problems, request.allocation);
  if (problems.length) throw new VmbatchError('JOB_SIZE_TOO_LARGE', { template: basename(template.file, '.xml'), problems });
  // the catalogue chose this template because its memory fits the VM: a smaller request must not undercut it
  if (floor && memory.value < floor.memoryMiB)
    return { vcpus: vcpus.value, memoryMiB: floor.memoryMiB, from: { vcpus: vcpus.from, memory: `${memory.from}, raised to ${plural(floor.memoryMiB, 'MiB')} (${floor.source})` } };
  return { vcpus: vcpus.value, memoryMiB: memory.value, from: { vcpus: vcpus.from, memory: memory.from } };
}

// One dimension: the default, the request, the request raised to the minimum, an allocation
// lowered to the maximum, or a problem.
function resolve(
  range: SizeRange,
  asked: number | undefined,
  words: string | undefined,
  node: SizeBound,
  unit: 'vCPU' | 'MiB',
  problems: string[],
  allocation = false,
): { value: number; from: string } {
  if (asked === undefined) return { value: range.default.value, from: `the template's default, ${range.default.source}` };
  const said = words ?? plural(asked, unit);
  const max = largestAllowed(range, node);
  // an allocation bounds the job, and may be the batch system's default: a smaller guest fits in it
  if (asked > max.value && allocation) return { value: max.value, from: `${said}, lowered to the most the guest may have, ${plural(max.value, unit)} (${max.source})` };
  if (asked > max.value) {
    const why = range.fixedBy ? `fixed by ${range.fixedBy} at ${range.default.source}` : max.source;
    problems.push(`${plural(asked, unit)} (${said}): at most ${plural(max.value, unit)} (${why})`);
    return { value: asked, from: said };
  }
  if (asked < range.min.value) return { value: range.min.value, from: `${said} asks for ${plural(asked, unit)}, raised to the minimum ${plural(range.min.value, unit)} (${range.min.source})` };
  return { value: asked, from: said };
}

/** The most a template allows in one dimension: its maximum, else the node's capacity (or the default, when larger). */
export function largestAllowed(range: SizeRange, node: SizeBound): SizeBound {
  return range.max ?? (node.value >= range.default.value ? node : range.default);
}

/** The memory floor a catalogue resolution sets: its VM's kb:mem_kb, in whole MiB. */
export function rteMemoryFloor(rte: { vm: string; vmMemoryKiB?: number } | undefined): MemoryFloor | undefined {
  if (!rte?.vmMemoryKiB) return undefined;
  return { memoryMiB: Math.ceil(rte.vmMemoryKiB / 1024), source: `${rte.vm} needs ${rte.vmMemoryKiB} KiB (kb:mem_kb)` };
}
