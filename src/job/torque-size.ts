import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobSize } from './job-size.js';

// Torque's size units (attr_fn_size): k, m, g, t are powers of 1024; a word (w) is 8 bytes
const unitBytes: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  kb: 1n << 10n,
  mb: 1n << 20n,
  gb: 1n << 30n,
  tb: 1n << 40n,
  w: 8n,
  kw: 8n << 10n,
  mw: 8n << 20n,
  gw: 8n << 30n,
  tw: 8n << 40n,
};
const mib = 1n << 20n;
const sizeSyntax = 'write a whole number with an optional unit b, kb, mb, gb, tb (or w, kw, mw, gw, tw: words of 8 bytes), e.g. mem=2gb';
const countSyntax = 'must be a whole number of at least 1';
const oneNode = 'vmbatch runs the job in one guest, on its first node: ask for nodes=1:ppn=P';

/**
 * The guest size a Torque job asks for, from the prologue's resource list (every name=value in
 * order, see parseResourceList). vCPUs: `ppn` of a one-node `nodes=` spec, or `procs=`, or
 * `ncpus=` (when several are given they must agree). Memory: `mem` (the whole job), else `pmem`
 * per CPU, else `vmem`, else `pvmem` per CPU; sizes rounded up to whole MiB. The submitter
 * writes the list: every problem is reported at once (JOB_SIZE_INVALID), naming the resource.
 */
export function torqueJobSize(entries: [string, string][]): JobSize {
  const problems: string[] = [];
  const given = (name: string): string | undefined => {
    const values = [...new Set(entries.filter(([n]) => n === name).map(([, v]) => v))];
    // pbs_mom adds Torque's default nodes=1 to the list; the job's own spec wins over it
    const wanted = name === 'nodes' && values.length > 1 ? values.filter((v) => v !== '1') : values;
    if (wanted.length > 1) problems.push(`${name}= is given ${wanted.length} times (${wanted.map((v) => `${name}=${v}`).join(', ')}): give it once`);
    return wanted.length === 1 ? wanted[0] : undefined;
  };

  const cpuAsks: { count: number; words: string }[] = [];
  const nodes = given('nodes');
  if (nodes !== undefined) {
    const ppn = nodesPpn(nodes, problems);
    if (ppn !== undefined) cpuAsks.push({ count: ppn, words: `nodes=${nodes}` });
  }
  for (const name of ['procs', 'ncpus']) {
    const value = given(name);
    if (value === undefined) continue;
    const count = parseCount(value);
    if (typeof count === 'string') problems.push(`${name}=${value}: ${count}`);
    else cpuAsks.push({ count, words: `${name}=${value}` });
  }
  const counts = [...new Set(cpuAsks.map((a) => a.count))];
  if (counts.length > 1) {
    problems.push(`${cpuAsks.map((a) => a.words).join(' and ')} ask for different numbers of CPUs (${cpuAsks.map((a) => a.count).join(' and ')}): give one of them`);
  }
  const cpus = cpuAsks[0];

  // every size given is checked, also those a preferred one makes unused
  const sizes = new Map<string, number>();
  for (const name of ['mem', 'pmem', 'vmem', 'pvmem']) {
    const value = given(name);
    if (value === undefined) continue;
    const size = parseSizeMiB(value);
    if (typeof size === 'string') problems.push(`${name}=${value}: ${size}`);
    else sizes.set(name, size);
  }
  if (problems.length) throw new VmbatchError('JOB_SIZE_INVALID', { problems });

  const size: JobSize = { origin: {} };
  if (cpus) {
    size.vcpus = cpus.count;
    size.origin.vcpus = cpus.words;
  }
  const memory = ['mem', 'pmem', 'vmem', 'pvmem'].find((n) => sizes.has(n));
  if (memory !== undefined) {
    const value = sizes.get(memory)!;
    // pmem and pvmem are per process: Torque gives a job one process per CPU it asked for
    if (memory === 'pmem' || memory === 'pvmem') size.memoryPerVcpuMiB = value;
    else size.memoryMiB = value;
    size.origin.memory = `${memory}=${entries.find(([n]) => n === memory)![1]}`;
  }
  return size;
}

// The CPUs one `nodes=` spec asks for: `1:ppn=P`, `HOST:ppn=P`, properties allowed, `#excl` and
// the like ignored; undefined when it names no ppn. Several nodes are refused.
function nodesPpn(spec: string, problems: string[]): number | undefined {
  const where = `nodes=${spec}`;
  const parts = spec.replace(/#[A-Za-z]+$/, '').split('+');
  let nodeCount = 0;
  let ppn: number | undefined;
  for (const part of parts) {
    const [first = '', ...settings] = part.split(':');
    if (/^[0-9]+$/.test(first)) nodeCount += Number(first);
    else if (/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(first)) nodeCount += 1;
    else {
      problems.push(`${where}: '${first}' is neither a number of nodes nor a host name`);
      return undefined;
    }
    const seen = new Set<string>();
    for (const setting of settings) {
      const m = /^([A-Za-z]+)=(.*)$/s.exec(setting);
      if (!m) {
        // a bare word is a node property: the scheduler's business when it chose this node
        if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(setting)) problems.push(`${where}: '${setting}' is neither ppn=P nor a node property`);
        continue;
      }
      const [, key = '', value = ''] = m;
      if (seen.has(key)) {
        problems.push(`${where}: ${key} is given twice`);
        continue;
      }
      seen.add(key);
      if (key === 'ppn') {
        const count = parseCount(value);
        if (typeof count === 'string') problems.push(`${where}: ppn=${value} ${count}`);
        else ppn = count;
      } else if ((key === 'gpus' || key === 'mics') && value !== '0') {
        problems.push(`${where}: vmbatch guests have no ${key === 'gpus' ? 'GPUs' : 'MICs'}: leave ${key}= out`);
      } else if (key !== 'gpus' && key !== 'mics') {
        problems.push(`${where}: unknown node setting ${key}= (vmbatch knows ppn=)`);
      }
    }
  }
  if (nodeCount === 0) problems.push(`${where} asks for no node: ${oneNode}`);
  else if (nodeCount > 1) problems.push(`${where} asks for ${nodeCount} nodes: ${oneNode}`);
  return ppn;
}

// A count of CPUs: a whole number of at least 1, or why not.
function parseCount(value: string): number | string {
  if (!/^[0-9]+$/.test(value) || /^0+$/.test(value)) return countSyntax;
  const count = Number(value);
  return Number.isSafeInteger(count) ? count : 'is too large';
}

// A Torque size in whole MiB, rounded up, or why it is not one.
function parseSizeMiB(value: string): number | string {
  const m = /^([0-9]+)([A-Za-z]*)$/.exec(value);
  const factor = m && unitBytes[m[2]!.toLowerCase()];
  if (!m || factor === undefined) return `is not a size: ${sizeSyntax}`;
  const bytes = BigInt(m[1]!) * factor!;
  if (bytes === 0n) return 'must be more than 0';
  const whole = (bytes + mib - 1n) / mib;
  return whole > BigInt(Number.MAX_SAFE_INTEGER) ? 'is more memory than any guest can have' : Number(whole);
}
