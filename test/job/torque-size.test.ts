import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseResourceList } from '../../src/job/resources.js';
import { torqueJobSize } from '../../src/job/torque-size.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

// the list as pbs_mom passes it to the prologue (argv[5])
const sizeOf = (list: string) => torqueJobSize(parseResourceList(list).entries);
const hint = '  hint: ask for the CPUs and memory of one guest, e.g. qsub -l nodes=1:ppn=2,mem=2gb (docs/submitters.md, "The guest\'s size")';
const invalid = async (list: string) => (await expectVmbatchError(() => sizeOf(list), 'JOB_SIZE_INVALID')).message;

test('the resource list keeps every name=value in order, repeats and commas inside values included', () => {
  assert.equal(parseResourceList('nodes=1:ppn=2,mem=512mb,other=vbuserimage=http://h/a,b.img,nodes=1,neednodes=1').entries, [
    ['nodes', '1:ppn=2'],
    ['mem', '512mb'],
    ['other', 'vbuserimage=http://h/a,b.img'],
    ['nodes', '1'],
    ['neednodes', '1'],
  ]);
});

test('vCPUs from nodes=1:ppn=P, nodes=HOST:ppn=P, procs=P, ncpus=P; memory from mem', () => {
  assert.equal(sizeOf('nodes=1:ppn=2,mem=512mb,walltime=00:05:00,neednodes=1:ppn=2'), { vcpus: 2, memoryMiB: 512, origin: { vcpus: 'nodes=1:ppn=2', memory: 'mem=512mb' } });
  assert.equal(sizeOf('nodes=node07.example.org:ppn=3'), { vcpus: 3, origin: { vcpus: 'nodes=node07.example.org:ppn=3' } });
  assert.is(sizeOf('nodes=3n07:ppn=4').vcpus, 4);
  assert.equal(sizeOf('procs=4,nodes=1,neednodes=1'), { vcpus: 4, origin: { vcpus: 'procs=4' } });
  assert.equal(sizeOf('ncpus=2,nodes=1'), { vcpus: 2, origin: { vcpus: 'ncpus=2' } });
  // node properties and #excl are the scheduler's; agreeing counts are one request
  assert.equal(sizeOf('nodes=1:ppn=2:bigmem#excl,procs=2').vcpus, 2);
  assert.equal(sizeOf('nodes=1:ppn=2:gpus=0').vcpus, 2);
});

test('a job that asks nothing asks nothing: the contract list and an empty one', () => {
  assert.equal(sizeOf('other=vbuserimage=http://example/img.qcow2,walltime=00:05:00,nodes=1,neednodes=1'), { origin: {} });
  assert.equal(sizeOf(''), { origin: {} });
});

test("pbs_mom's default nodes=1 does not override the job's own nodes= spec, wherever it stands", () => {
  assert.is(sizeOf('nodes=1:ppn=2,walltime=00:05:00,nodes=1,neednodes=1').vcpus, 2);
  assert.is(sizeOf('nodes=1,nodes=1:ppn=3').vcpus, 3);
});

test('every size unit: b, kb, mb, gb, tb, words, no unit (bytes), any case; rounded up to whole MiB', () => {
  const mem = (v: string) => sizeOf(`mem=${v}`).memoryMiB;
  assert.is(mem('1073741824'), 1024);
  assert.is(mem('1073741824b'), 1024);
  assert.is(mem('1048576kb'), 1024);
  assert.is(mem('1024mb'), 1024);
  assert.is(mem('1gb'), 1024);
  assert.is(mem('1tb'), 1048576);
  assert.is(mem('2GB'), 2048);
  assert.is(mem('512Mb'), 512);
  assert.is(mem('134217728w'), 1024);
  assert.is(mem('131072kw'), 1024);
  assert.is(mem('128mw'), 1024);
  assert.is(mem('1gw'), 8192);
  assert.is(mem('1tw'), 8388608);
  assert.is(mem('1'), 1);
  assert.is(mem('1kb'), 1);
  assert.is(mem('1048576'), 1);
  assert.is(mem('1048577'), 2);
  assert.is(mem('1025kb'), 2);
  assert.is(mem('999999999tb'), 1048575998951424);
});

test('memory: mem, else pmem per CPU, else vmem, else pvmem per CPU', () => {
  assert.equal(sizeOf('pmem=256mb,mem=1gb,vmem=2gb'), { memoryMiB: 1024, origin: { memory: 'mem=1gb' } });
  assert.equal(sizeOf('nodes=1:ppn=2,vmem=2gb,pmem=300mb'), { vcpus: 2, memoryPerVcpuMiB: 300, origin: { vcpus: 'nodes=1:ppn=2', memory: 'pmem=300mb' } });
  assert.equal(sizeOf('pvmem=1gb,vmem=3gb'), { memoryMiB: 3072, origin: { memory: 'vmem=3gb' } });
  assert.equal(sizeOf('pvmem=1gb'), { memoryPerVcpuMiB: 1024, origin: { memory: 'pvmem=1gb' } });
});

test('more than one node is refused, naming the resource and what to ask instead', async () => {
  const one = 'vmbatch runs the job in one guest, on its first node: ask for nodes=1:ppn=P';
  assert.is(await invalid('nodes=2,walltime=00:05:00,neednodes=2'), `the job's CPU and memory request is invalid:\n  - nodes=2 asks for 2 nodes: ${one}`);
  assert.is(await invalid('nodes=2:ppn=1'), `the job's CPU and memory request is invalid:\n  - nodes=2:ppn=1 asks for 2 nodes: ${one}`);
  assert.is(await invalid('nodes=a+b'), `the job's CPU and memory request is invalid:\n  - nodes=a+b asks for 2 nodes: ${one}`);
  assert.is(await invalid('nodes=1:ppn=2+1:ppn=2'), `the job's CPU and memory request is invalid:\n  - nodes=1:ppn=2+1:ppn=2 asks for 2 nodes: ${one}`);
  assert.is(await invalid('nodes=0'), `the job's CPU and memory request is invalid:\n  - nodes=0 asks for no node: ${one}`);
});

test('hostile and garbage values are refused, every problem at once, with the exact resource', async () => {
  const e = await expectVmbatchError(() => sizeOf('nodes=1:ppn=0,procs=-1,ncpus=1e9,mem=lots,pmem=0,vmem=12.5gb,pvmem=1pb,walltime=00:05:00'), 'JOB_SIZE_INVALID');
  const notSize = 'is not a size: write a whole number with an optional unit b, kb, mb, gb, tb (or w, kw, mw, gw, tw: words of 8 bytes), e.g. mem=2gb';
  assert.is(
    `vmbatch: ${e.code}: ${e.message}\n  hint: ${e.hint}`,
    [
      "vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:",
      '  - nodes=1:ppn=0: ppn=0 must be a whole number of at least 1',
      '  - procs=-1: must be a whole number of at least 1',
      '  - ncpus=1e9: must be a whole number of at least 1',
      `  - mem=lots: ${notSize}`,
      '  - pmem=0: must be more than 0',
      `  - vmem=12.5gb: ${notSize}`,
      `  - pvmem=1pb: ${notSize}`,
      hint,
    ].join('\n'),
  );
  assert.is(await invalid('nodes=1:ppn=-1'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=-1: ppn=-1 must be a whole number of at least 1");
  assert.is(await invalid('nodes=1:ppn=1e9'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=1e9: ppn=1e9 must be a whole number of at least 1");
  assert.is(await invalid('nodes=1:ppn=99999999999999999999'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=99999999999999999999: ppn=99999999999999999999 is too large");
  assert.is(await invalid('nodes=1:ppn=2:ppn=3'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=2:ppn=3: ppn is given twice");
  assert.is(await invalid('mem=99999999999999999999tb'), "the job's CPU and memory request is invalid:\n  - mem=99999999999999999999tb: is more memory than any guest can have");
  assert.is(await invalid('nodes=1:gpus=1'), "the job's CPU and memory request is invalid:\n  - nodes=1:gpus=1: vmbatch guests have no GPUs: leave gpus= out");
  assert.is(await invalid('nodes=1:cores=4'), "the job's CPU and memory request is invalid:\n  - nodes=1:cores=4: unknown node setting cores= (vmbatch knows ppn=)");
  assert.is(await invalid('nodes=$(reboot):ppn=2'), "the job's CPU and memory request is invalid:\n  - nodes=$(reboot):ppn=2: '$(reboot)' is neither a number of nodes nor a host name");
  assert.is(await invalid('nodes=1:ppn=2:;rm'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=2:;rm: ';rm' is neither ppn=P nor a node property");
});

test('conflicting CPU counts and repeated resources are refused, naming both', async () => {
  assert.is(await invalid('nodes=1:ppn=2,procs=4'), "the job's CPU and memory request is invalid:\n  - nodes=1:ppn=2 and procs=4 ask for different numbers of CPUs (2 and 4): give one of them");
  assert.is(await invalid('nodes=1:ppn=2,nodes=1:ppn=3'), "the job's CPU and memory request is invalid:\n  - nodes= is given 2 times (nodes=1:ppn=2, nodes=1:ppn=3): give it once");
  assert.is(await invalid('mem=1gb,mem=2gb'), "the job's CPU and memory request is invalid:\n  - mem= is given 2 times (mem=1gb, mem=2gb): give it once");
  assert.is(sizeOf('mem=1gb,mem=1gb').memoryMiB, 1024);
});

test.run();
