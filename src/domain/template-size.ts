import type { VbAttrs } from './vb-tags.js';
import { children, textOf, type XmlElement } from './xml-tree.js';

/** One limit of a template's guest size, with the words of the template that set it. */
export interface SizeBound {
  value: number;
  /** e.g. `<vbsize maxcpus='4'>` or `<vcpu>1</vcpu>` */
  source: string;
}

/** The range of one dimension (vCPUs, or memory in MiB) a template's guests may have. */
export interface SizeRange {
  /** what a job that asks nothing gets */
  default: SizeBound;
  /** a request below it is raised to it */
  min: SizeBound;
  /** a request above it is refused; undefined: the node's capacity (or the default, if larger) */
  max: SizeBound | undefined;
  /** set when the template fixes this dimension (min = default = max), saying by what */
  fixedBy?: string;
}

/** What a template lets jobs ask for: vCPUs and memory (MiB). */
export interface TemplateSize {
  vcpus: SizeRange;
  memoryMiB: SizeRange;
}

const unitBytes: Record<string, number> = {
  b: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};

/** libvirt's memory units (default KiB) as KiB rounded down; undefined when not a size. */
export function kibOf(value: string, unit = 'KiB'): number | undefined {
  const factor = unitBytes[unit.toLowerCase()];
  if (factor === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Math.floor((Number(value) * factor) / 1024);
}

// How an element reads in a message: <memory unit='MiB'>256</memory>.
function shown(name: string, el: XmlElement): string {
  const attrs = Object.entries(el.$ ?? {})
    .map(([k, v]) => ` ${k}='${v}'`)
    .join('');
  return `<${name}${attrs}>${textOf(el)}</${name}>`;
}

/**
 * The template's size range, checked: the default is the template's own <vcpu> (its current=
 * when given) and <currentMemory> (else <memory>); <vbsize> sets the minimum and maximum (missing
 * ones: the default, and the node's capacity). Templates whose CPUs or memory other elements pin
 * (<cpu><numa> cells, <cpu><topology>, <vcpus>, huge pages, <maxMemory>) keep them fixed. Problems
 * go into `problems`, with the element path.
 */
export function templateSizeOf(domain: XmlElement, vbsize: VbAttrs<'vbsize'> | undefined, problems: string[]): TemplateSize {
  const where = 'domain/vbconfig/vbsize';
  const vcpuEl = children(domain, 'vcpu')[0];
  let vcpus: SizeBound = { value: 1, source: "libvirt's default of 1 vCPU (no <vcpu>)" };
  if (vcpuEl) {
    const current = vcpuEl.$?.current;
    const text = current ?? textOf(vcpuEl);
    if (/^[0-9]+$/.test(text) && Number(text) >= 1) vcpus = { value: Number(text), source: shown('vcpu', vcpuEl) };
    else problems.push(`domain/vcpu: ${shown('vcpu', vcpuEl)} is not a number of vCPUs (a whole number of at least 1)`);
  }
  const memoryEl = children(domain, 'currentMemory')[0] ?? children(domain, 'memory')[0];
  const kib = memoryEl ? kibOf(textOf(memoryEl), memoryEl.$?.unit) : undefined;
  // <memory> itself is checked by parseTemplate; a bad <currentMemory> is reported here
  if (memoryEl && kib === undefined && children(domain, 'currentMemory')[0]) {
    problems.push(`domain/currentMemory: ${shown('currentMemory', memoryEl)} is not a size (a whole number; unit b, KiB, MiB, GiB, TiB, KB, MB, GB or TB)`);
  }
  const memory: SizeBound = {
    value: Math.max(1, Math.ceil((kib ?? 0) / 1024)),
    source: memoryEl ? shown(memoryEl === children(domain, 'memory')[0] ? 'memory' : 'currentMemory', memoryEl) : '<memory>',
  };

  const cpu = children(domain, 'cpu')[0];
  const numa = cpu && children(cpu, 'numa').length > 0;
  const cpusFixedBy = numa ? '<cpu><numa>' : cpu && children(cpu, 'topology').length > 0 ? '<cpu><topology>' : children(domain, 'vcpus').length > 0 ? '<vcpus>' : undefined;
  const backing = children(domain, 'memoryBacking')[0];
  const memoryFixedBy = numa
    ? '<cpu><numa>'
    : backing && children(backing, 'hugepages').length > 0
      ? '<memoryBacking><hugepages>'
      : children(domain, 'maxMemory').length > 0
        ? '<maxMemory>'
        : undefined;
  return {
    vcpus: range(vcpus, vbsize?.mincpus, vbsize?.maxcpus, 'mincpus', 'maxcpus', cpusFixedBy),
    memoryMiB: range(memory, vbsize?.minmemory, vbsize?.maxmemory, 'minmemory', 'maxmemory', memoryFixedBy),
  };

  // One dimension: the limits <vbsize> gives must hold the default; a fixed one takes none.
  function range(def: SizeBound, min: number | undefined, max: number | undefined, minName: string, maxName: string, fixedBy: string | undefined): SizeRange {
    if (fixedBy) {
      for (const [name, value] of [
        [minName, min],
        [maxName, max],
      ] as const) {
        if (value !== undefined)
          problems.push(`${where}: ${name}='${value}' cannot stand with ${fixedBy}, which fixes the guest's ${minName.endsWith('cpus') ? 'vCPUs' : 'memory'} at ${def.source}; leave ${name} out`);
      }
      return { default: def, min: def, max: def, fixedBy };
    }
    const unit = minName.endsWith('memory') ? ' MiB' : '';
    if (min !== undefined && min > def.value)
      problems.push(`${where}: ${minName}='${min}' is more than the template's default ${def.value}${unit} (${def.source}); the default must lie within the limits`);
    if (max !== undefined && max < def.value)
      problems.push(`${where}: ${maxName}='${max}' is less than the template's default ${def.value}${unit} (${def.source}); the default must lie within the limits`);
    return {
      default: def,
      min: min === undefined ? def : { value: min, source: `<vbsize ${minName}='${min}'>` },
      max: max === undefined ? undefined : { value: max, source: `<vbsize ${maxName}='${max}'>` },
    };
  }
}
