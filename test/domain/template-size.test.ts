import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadTemplate, parseTemplate } from '../../src/domain/parse-template.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { domainsDir } from '../helpers/paths.js';

const cdromDisk = "<disk type='file' device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>";
const template = (head: string, vbsize = '') =>
  `<domain type='qemu'><name>t</name>${head}<vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor>${vbsize}</vbconfig><devices>${cdromDisk}</devices></domain>`;
const problemsOf = async (xml: string) => (await expectVmbatchError(() => parseTemplate(xml, 't.xml'), 'DOMAIN_TEMPLATE_INVALID')).message;

test('the shipped guests: <vcpu> and <memory> are the default, <vbsize> the limits', async () => {
  const t = await loadTemplate(join(domainsDir, 'testguest.xml'));
  assert.equal(t.size, {
    vcpus: { default: { value: 1, source: '<vcpu>1</vcpu>' }, min: { value: 1, source: "<vbsize mincpus='1'>" }, max: { value: 4, source: "<vbsize maxcpus='4'>" } },
    memoryMiB: {
      default: { value: 256, source: "<memory unit='MiB'>256</memory>" },
      min: { value: 256, source: "<vbsize minmemory='256'>" },
      max: { value: 2048, source: "<vbsize maxmemory='2048'>" },
    },
  });
  const cloud = await loadTemplate(join(domainsDir, 'cloudguest.xml'));
  assert.equal([cloud.size.vcpus.max?.value, cloud.size.memoryMiB.default.value, cloud.size.memoryMiB.max?.value], [4, 1024, 4096]);
});

test('without <vbsize>: the minimum is the default, the maximum is left to the node; units and current= are read', async () => {
  const t = await parseTemplate(template("<memory unit='GiB'>2</memory><currentMemory unit='KiB'>1048577</currentMemory><vcpu placement='static' current='2'>4</vcpu>"), 't.xml');
  assert.equal(t.size.vcpus, {
    default: { value: 2, source: "<vcpu placement='static' current='2'>4</vcpu>" },
    min: { value: 2, source: "<vcpu placement='static' current='2'>4</vcpu>" },
    max: undefined,
  });
  // <currentMemory> is what the guest has; rounded up to whole MiB
  assert.equal(t.size.memoryMiB.default, { value: 1025, source: "<currentMemory unit='KiB'>1048577</currentMemory>" });
  const bare = await parseTemplate(template('<memory>262144</memory>'), 't.xml');
  assert.equal([bare.size.vcpus.default.value, bare.size.memoryMiB.default.value], [1, 256]);
});

test('a bad <vbsize> attribute is reported with its element path, every problem at once', async () => {
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory><vcpu>1</vcpu>", "<vbsize mincpus='0' maxcpus='four' maxmemory='-1' memory='512'/>")),
    [
      'domain template t.xml is invalid:',
      '  - domain/vbconfig/vbsize: attribute mincpus must be a whole number of at least 1',
      '  - domain/vbconfig/vbsize: attribute maxcpus must be a whole number of at least 1',
      '  - domain/vbconfig/vbsize: attribute maxmemory must be a whole number of at least 1',
      '  - domain/vbconfig/vbsize: unknown attribute(s) memory (allowed: mincpus, maxcpus, minmemory, maxmemory)',
    ].join('\n'),
  );
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory>", "<vbsize maxcpu='2'/>")),
    'domain template t.xml is invalid:\n  - domain/vbconfig/vbsize: unknown attribute(s) maxcpu (allowed: mincpus, maxcpus, minmemory, maxmemory); did you mean maxcpus?',
  );
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory>", "<vbsize mincpus='4' maxcpus='2' minmemory='512' maxmemory='256'/>")),
    ['domain template t.xml is invalid:', "  - domain/vbconfig/vbsize: mincpus='4' is more than maxcpus='2'", "  - domain/vbconfig/vbsize: minmemory='512' is more than maxmemory='256'"].join('\n'),
  );
});

test('the default must lie within the limits: min <= default <= max', async () => {
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory><vcpu>2</vcpu>", "<vbsize mincpus='3' maxcpus='4' minmemory='128' maxmemory='200'/>")),
    [
      'domain template t.xml is invalid:',
      "  - domain/vbconfig/vbsize: mincpus='3' is more than the template's default 2 (<vcpu>2</vcpu>); the default must lie within the limits",
      "  - domain/vbconfig/vbsize: maxmemory='200' is less than the template's default 256 MiB (<memory unit='MiB'>256</memory>); the default must lie within the limits",
    ].join('\n'),
  );
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory><vcpu>many</vcpu>")),
    'domain template t.xml is invalid:\n  - domain/vcpu: <vcpu>many</vcpu> is not a number of vCPUs (a whole number of at least 1)',
  );
});

test('NUMA cells, a CPU topology, <vcpus> or huge pages fix the size; <vbsize> cannot loosen them', async () => {
  const numa = "<cpu><numa><cell id='0' cpus='0-1' memory='512' unit='MiB'/></numa></cpu>";
  const t = await parseTemplate(template(`<memory unit='MiB'>512</memory><vcpu>2</vcpu>${numa}`), 't.xml');
  assert.equal(t.size.vcpus, { default: { value: 2, source: '<vcpu>2</vcpu>' }, min: { value: 2, source: '<vcpu>2</vcpu>' }, max: { value: 2, source: '<vcpu>2</vcpu>' }, fixedBy: '<cpu><numa>' });
  assert.is(t.size.memoryMiB.fixedBy, '<cpu><numa>');
  const topology = await parseTemplate(template("<memory unit='MiB'>512</memory><vcpu>2</vcpu><cpu><topology sockets='1' cores='2' threads='1'/></cpu>"), 't.xml');
  assert.equal([topology.size.vcpus.fixedBy, topology.size.memoryMiB.fixedBy], ['<cpu><topology>', undefined]);
  const huge = await parseTemplate(template("<memory unit='MiB'>512</memory><memoryBacking><hugepages/></memoryBacking>"), 't.xml');
  assert.equal([huge.size.vcpus.fixedBy, huge.size.memoryMiB.fixedBy], [undefined, '<memoryBacking><hugepages>']);
  assert.is(
    await problemsOf(template(`<memory unit='MiB'>512</memory><vcpu>2</vcpu>${numa}`, "<vbsize maxcpus='4' maxmemory='1024'/>")),
    [
      'domain template t.xml is invalid:',
      "  - domain/vbconfig/vbsize: maxcpus='4' cannot stand with <cpu><numa>, which fixes the guest's vCPUs at <vcpu>2</vcpu>; leave maxcpus out",
      "  - domain/vbconfig/vbsize: maxmemory='1024' cannot stand with <cpu><numa>, which fixes the guest's memory at <memory unit='MiB'>512</memory>; leave maxmemory out",
    ].join('\n'),
  );
});

test('<vbsize> belongs in <vbconfig> and appears once', async () => {
  const misplaced = `<domain type='qemu'><name>t</name><memory unit='MiB'>256</memory><vbconfig><vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig><devices>${cdromDisk}<vbsize maxcpus='2'/></devices></domain>`;
  assert.is(await problemsOf(misplaced), 'domain template t.xml is invalid:\n  - domain/devices/vbsize: <vbsize> belongs in <vbconfig>, not in <devices>');
  assert.is(
    await problemsOf(template("<memory unit='MiB'>256</memory>", "<vbsize maxcpus='2'/><vbsize maxcpus='3'/>")),
    'domain template t.xml is invalid:\n  - domain/vbconfig: <vbsize> may appear only once',
  );
});

test.run();
