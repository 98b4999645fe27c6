import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { resolveGuestSize, rteMemoryFloor } from '../../src/domain/guest-size.js';
import { formatError } from '../../src/errors/vmbatch-error.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const node = { cpus: 2, memoryMiB: 24105 };
const testguest = await loadTemplate(join(domainsDir, 'testguest.xml'));
const cdromDisk = "<disk type='file' device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>";
const plain = (head: string) =>
  parseTemplate(
    `<domain type='qemu'><name>t</name>${head}<vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig><devices>${cdromDisk}</devices></domain>`,
    '/etc/vmbatch/domains/plain.xml',
  );

test('a job that asks nothing gets the template default', () => {
  assert.equal(resolveGuestSize(testguest, { origin: {} }, node), {
    vcpus: 1,
    memoryMiB: 256,
    from: { vcpus: "the template's default, <vcpu>1</vcpu>", memory: "the template's default, <memory unit='MiB'>256</memory>" },
  });
});

test('a request within the limits is what the guest gets; per-vCPU memory counts the vCPUs', () => {
  assert.equal(resolveGuestSize(testguest, { vcpus: 2, memoryMiB: 512, origin: { vcpus: 'nodes=1:ppn=2', memory: 'mem=512mb' } }, node), {
    vcpus: 2,
    memoryMiB: 512,
    from: { vcpus: 'nodes=1:ppn=2', memory: 'mem=512mb' },
  });
  assert.equal(resolveGuestSize(testguest, { vcpus: 3, memoryPerVcpuMiB: 300, origin: { vcpus: 'nodes=1:ppn=3', memory: 'pmem=300mb' } }, node), {
    vcpus: 3,
    memoryMiB: 900,
    from: { vcpus: 'nodes=1:ppn=3', memory: 'pmem=300mb × 3 vCPUs' },
  });
  // with no CPUs asked, per-vCPU memory counts the template's default vCPUs
  assert.is(resolveGuestSize(testguest, { memoryPerVcpuMiB: 300, origin: { memory: 'pmem=300mb' } }, node).memoryMiB, 300);
});

test('a request below the minimum is raised to it, and says so', () => {
  assert.equal(resolveGuestSize(testguest, { memoryMiB: 1, origin: { memory: 'mem=1kb' } }, node), {
    vcpus: 1,
    memoryMiB: 256,
    from: { vcpus: "the template's default, <vcpu>1</vcpu>", memory: "mem=1kb asks for 1 MiB, raised to the minimum 256 MiB (<vbsize minmemory='256'>)" },
  });
});

test('a request over the maximum is refused, never shrunk: every dimension at once, with the limit and where it is set', async () => {
  const e = await expectVmbatchError(
    () => resolveGuestSize(testguest, { vcpus: 8, memoryMiB: 1048575998951424, origin: { vcpus: 'nodes=1:ppn=8', memory: 'mem=999999999tb' } }, node),
    'JOB_SIZE_TOO_LARGE',
  );
  assert.is(
    formatError(e),
    [
      'vmbatch: JOB_SIZE_TOO_LARGE: the job asks for a larger guest than the domain template testguest allows:',
      "  - 8 vCPUs (nodes=1:ppn=8): at most 4 vCPUs (<vbsize maxcpus='4'>)",
      "  - 1048575998951424 MiB (mem=999999999tb): at most 2048 MiB (<vbsize maxmemory='2048'>)",
      '  hint: ask for no more than the limits above (qsub -l nodes=1:ppn=P,mem=SIZE), or for a template that allows more (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME; docs/submitters.md, "The guest\'s size")',
    ].join('\n'),
  );
  const perCpu = await expectVmbatchError(() => resolveGuestSize(testguest, { vcpus: 4, memoryPerVcpuMiB: 1024, origin: { vcpus: 'procs=4', memory: 'pmem=1gb' } }, node), 'JOB_SIZE_TOO_LARGE');
  assert.is(perCpu.message, "the job asks for a larger guest than the domain template testguest allows:\n  - 4096 MiB (pmem=1gb × 4 vCPUs): at most 2048 MiB (<vbsize maxmemory='2048'>)");
});

test("without <vbsize maxcpus/maxmemory> the node's CPUs and memory are the maximum (or the default, when larger)", async () => {
  const t = await plain("<memory unit='MiB'>256</memory><vcpu>1</vcpu>");
  assert.is(resolveGuestSize(t, { vcpus: 2, memoryMiB: 24105, origin: {} }, node).vcpus, 2);
  const e = await expectVmbatchError(() => resolveGuestSize(t, { vcpus: 3, memoryMiB: 24106, origin: { vcpus: 'procs=3', memory: 'mem=24106mb' } }, node), 'JOB_SIZE_TOO_LARGE');
  assert.is(
    e.message,
    [
      'the job asks for a larger guest than the domain template plain allows:',
      '  - 3 vCPUs (procs=3): at most 2 vCPUs (the CPUs online on this node)',
      "  - 24106 MiB (mem=24106mb): at most 24105 MiB (this node's memory (MemTotal))",
    ].join('\n'),
  );
  const big = await plain("<memory unit='MiB'>256</memory><vcpu>4</vcpu>");
  assert.is(resolveGuestSize(big, { vcpus: 4, origin: {} }, node).vcpus, 4);
  assert.is(
    (await expectVmbatchError(() => resolveGuestSize(big, { vcpus: 5, origin: { vcpus: 'procs=5' } }, node), 'JOB_SIZE_TOO_LARGE')).message,
    'the job asks for a larger guest than the domain template plain allows:\n  - 5 vCPUs (procs=5): at most 4 vCPUs (<vcpu>4</vcpu>)',
  );
});

test('a size fixed by NUMA cells: less is raised to it, more is refused naming what fixes it', async () => {
  const t = await plain("<memory unit='MiB'>512</memory><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-1' memory='512' unit='MiB'/></numa></cpu>");
  assert.equal(resolveGuestSize(t, { vcpus: 1, origin: { vcpus: 'nodes=1:ppn=1' } }, node), {
    vcpus: 2,
    memoryMiB: 512,
    from: { vcpus: 'nodes=1:ppn=1 asks for 1 vCPU, raised to the minimum 2 vCPUs (<vcpu>2</vcpu>)', memory: "the template's default, <memory unit='MiB'>512</memory>" },
  });
  const e = await expectVmbatchError(() => resolveGuestSize(t, { memoryMiB: 1024, origin: { memory: 'mem=1gb' } }, node), 'JOB_SIZE_TOO_LARGE');
  assert.is(e.message, "the job asks for a larger guest than the domain template plain allows:\n  - 1024 MiB (mem=1gb): at most 512 MiB (fixed by <cpu><numa> at <memory unit='MiB'>512</memory>)");
});

test("a catalogue VM's kb:mem_kb is a floor: a smaller request (or default) is raised to it, a larger one stands", () => {
  const floor = rteMemoryFloor({ vm: 'VMLinux/vmbatch-test', vmMemoryKiB: 400000 });
  assert.equal(floor, { memoryMiB: 391, source: 'VMLinux/vmbatch-test needs 400000 KiB (kb:mem_kb)' });
  assert.equal(resolveGuestSize(testguest, { memoryMiB: 300, origin: { memory: 'mem=300mb' } }, node, floor), {
    vcpus: 1,
    memoryMiB: 391,
    from: { vcpus: "the template's default, <vcpu>1</vcpu>", memory: 'mem=300mb, raised to 391 MiB (VMLinux/vmbatch-test needs 400000 KiB (kb:mem_kb))' },
  });
  assert.is(resolveGuestSize(testguest, { origin: {} }, node, floor).memoryMiB, 391);
  assert.is(resolveGuestSize(testguest, { memoryMiB: 1024, origin: { memory: 'mem=1gb' } }, node, floor).memoryMiB, 1024);
  assert.is(rteMemoryFloor({ vm: 'x' }), undefined);
  assert.is(rteMemoryFloor(undefined), undefined);
});

test.run();
