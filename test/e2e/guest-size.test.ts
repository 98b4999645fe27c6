// The guest's size from the job's request (issue 13, item 2), through the hooks as pbs_mom runs
// them, real libvirt and the real test guest: vCPUs and memory, the node file, the limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { domainsDir, repoRoot } from '../helpers/paths.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, torqueProcessorEnv, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
let user: HostUser;
let mom: Mom;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ domains: { consoleguest: shipped.replace('</vbconfig>', "  <vbremoteshell mode='console'/>\n  </vbconfig>") } });
});
test.after(() => teardownMom(mom));

// this file's jobs only (77xx): other tests' guests share qemu:///system
const mine = async () => {
  const left = await leftovers(mom);
  return { ...left, domains: left.domains.filter((d) => /^vmbatch-77\d\d\.vm$/.test(d)) };
};
const nothingLeft = { domains: [], jobs: [], ports: [], attempts: [] };

const sizeScript = `#!/bin/sh
echo "nproc=$(nproc)"
echo "memtotal=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB$/\\1/p' /proc/meminfo)"
echo "np=$PBS_NP ppn=$PBS_NUM_PPN nodes=$PBS_NUM_NODES"
test -f "$PBS_NODEFILE" && echo "nodefile is a file of $(stat -c %U "$PBS_NODEFILE")"
cat "$PBS_NODEFILE"
`;

// Runs a job through prologue, remoteshell and epilogue; returns the domain XML libvirt ran and the job's output.
async function runSizedJob(job: JobSpec): Promise<{ xml: string; stdout: string; stderr: string }> {
  const script = writeJobScript(mom, job, sizeScript);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  try {
    const xml = (await execa('virsh', ['-c', 'qemu:///system', 'dumpxml', `vmbatch-${job.jobId}`])).stdout;
    const run = await runJobStarter(mom, job, script);
    assert.is(run.exitCode, 0, run.stderr);
    return { xml, stdout: run.stdout, stderr: run.stderr };
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
    assert.equal(await mine(), nothingLeft);
  }
}

// The guest's output: nproc, MemTotal (KiB), PBS_* counts, the node file.
function parseOutput(stdout: string): { nproc: number; memMiB: number; counts: string; nodefile: string[] } {
  const lines = stdout.split('\n');
  return {
    nproc: Number(/^nproc=(\d+)$/.exec(lines[0] ?? '')?.[1]),
    memMiB: Number(/^memtotal=(\d+)$/.exec(lines[1] ?? '')?.[1]) / 1024,
    counts: lines[2] ?? '',
    nodefile: lines.slice(3),
  };
}

test('the harness gives the job PBS_NP and PBS_NUM_PPN as pbs_mom derives them from the request', () => {
  assert.equal(torqueProcessorEnv({ jobId: '7700.vm', user, resources: 'nodes=1:ppn=2,mem=512mb' }), { PBS_NUM_NODES: '1', PBS_NUM_PPN: '2', PBS_NP: '2' });
  assert.equal(torqueProcessorEnv({ jobId: '7700.vm', user }), { PBS_NUM_NODES: '1', PBS_NUM_PPN: '1', PBS_NP: '1' });
  assert.equal(torqueProcessorEnv({ jobId: '7700.vm', user, resources: 'procs=3' }), { PBS_NUM_NODES: '1', PBS_NUM_PPN: '3', PBS_NP: '3' });
});

test('nodes=1:ppn=2,mem=512mb: the guest has 2 vCPUs and 512 MiB, PBS_NP=2, and a node file naming it twice', async () => {
  const { xml, stdout } = await runSizedJob({ jobId: '7701.vm', user, resources: 'nodes=1:ppn=2,mem=512mb' });
  assert.match(xml, "<memory unit='KiB'>524288</memory>");
  assert.match(xml, "<currentMemory unit='KiB'>524288</currentMemory>");
  assert.match(xml, /<vcpu placement='static'>2<\/vcpu>/);
  const out = parseOutput(stdout);
  assert.is(out.nproc, 2, stdout);
  // the kernel keeps some memory for itself: MemTotal is a little below the guest's 512 MiB
  assert.ok(out.memMiB > 400 && out.memMiB <= 512, `MemTotal ${out.memMiB} MiB`);
  assert.is(out.counts, 'np=2 ppn=2 nodes=1');
  assert.equal(out.nodefile, ['nodefile is a file of vbe2e', 'vmbatch-guest', 'vmbatch-guest']);
});

test('a job that asks nothing gets the template default: 1 vCPU, 256 MiB, a node file naming the guest once', async () => {
  const { xml, stdout } = await runSizedJob({ jobId: '7702.vm', user });
  assert.match(xml, "<memory unit='KiB'>262144</memory>");
  const out = parseOutput(stdout);
  assert.is(out.nproc, 1, stdout);
  assert.ok(out.memMiB > 150 && out.memMiB <= 256, `MemTotal ${out.memMiB} MiB`);
  assert.is(out.counts, 'np=1 ppn=1 nodes=1');
  assert.equal(out.nodefile, ['nodefile is a file of vbe2e', 'vmbatch-guest']);
});

test('console remoteshell: procs=2 gives the same node file and counts', async () => {
  const { stdout } = await runSizedJob({ jobId: '7703.vm', user, resources: 'procs=2,pmem=200mb,other=vbdomain=consoleguest' });
  const out = parseOutput(stdout);
  assert.is(out.nproc, 2, stdout);
  // pmem is per CPU: 2 × 200 MiB
  assert.ok(out.memMiB > 300 && out.memMiB <= 400, `MemTotal ${out.memMiB} MiB`);
  assert.is(out.counts, 'np=2 ppn=2 nodes=1');
  assert.equal(out.nodefile, ['nodefile is a file of vbe2e', 'vmbatch-guest', 'vmbatch-guest']);
});

// A prologue that fails before anything is made: exit 1, the exact text, the notice, nothing left.
async function refused(job: JobSpec, expected: string): Promise<void> {
  const script = writeJobScript(mom, job, '#!/bin/sh\necho never\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, 1, run.stderr);
  assert.is(run.stderr, `${expected}\nvmbatch: job ${job.jobId} is aborted.`);
  const notice = join(user.home, `vmbatch-${job.jobId}.err`);
  assert.is(readFileSync(notice, 'utf8'), run.stderr + '\n');
  rmSync(notice);
  assert.equal((await mine()).domains, [], 'no guest was started');
  assert.is((await runEpilogue(mom, job, script, -2)).exitCode, 0);
  assert.equal(await mine(), nothingLeft);
}

const tooLargeHint =
  '  hint: ask for no more than the limits above (qsub -l nodes=1:ppn=P,mem=SIZE), or for a template that allows more (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME; docs/submitters.md, "The guest\'s size")';
const invalidHint = '  hint: ask for the CPUs and memory of one guest, e.g. qsub -l nodes=1:ppn=2,mem=2gb (docs/submitters.md, "The guest\'s size")';

test("a request over the template's maximum aborts the job (1), naming each limit; never a smaller guest", async () => {
  await refused(
    { jobId: '7710.vm', user, resources: 'nodes=1:ppn=8,mem=4gb' },
    [
      'vmbatch: JOB_SIZE_TOO_LARGE: the job asks for a larger guest than the domain template testguest allows:',
      "  - 8 vCPUs (nodes=1:ppn=8): at most 4 vCPUs (<vbsize maxcpus='4'>)",
      "  - 4096 MiB (mem=4gb): at most 2048 MiB (<vbsize maxmemory='2048'>)",
      tooLargeHint,
    ].join('\n'),
  );
});

test('hostile sizes get clear errors, never a crash or a huge guest', async () => {
  await refused(
    { jobId: '7711.vm', user, resources: 'mem=999999999tb' },
    [
      'vmbatch: JOB_SIZE_TOO_LARGE: the job asks for a larger guest than the domain template testguest allows:',
      "  - 1048575998951424 MiB (mem=999999999tb): at most 2048 MiB (<vbsize maxmemory='2048'>)",
      tooLargeHint,
    ].join('\n'),
  );
  await refused(
    { jobId: '7712.vm', user, resources: 'nodes=1:ppn=0' },
    ["vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:", '  - nodes=1:ppn=0: ppn=0 must be a whole number of at least 1', invalidHint].join('\n'),
  );
  await refused(
    { jobId: '7713.vm', user, resources: 'nodes=1:ppn=-1' },
    ["vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:", '  - nodes=1:ppn=-1: ppn=-1 must be a whole number of at least 1', invalidHint].join('\n'),
  );
  await refused(
    { jobId: '7714.vm', user, resources: 'nodes=1:ppn=1e9' },
    ["vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:", '  - nodes=1:ppn=1e9: ppn=1e9 must be a whole number of at least 1', invalidHint].join('\n'),
  );
  await refused(
    { jobId: '7715.vm', user, resources: 'nodes=1:ppn=1000000000' },
    [
      'vmbatch: JOB_SIZE_TOO_LARGE: the job asks for a larger guest than the domain template testguest allows:',
      "  - 1000000000 vCPUs (nodes=1:ppn=1000000000): at most 4 vCPUs (<vbsize maxcpus='4'>)",
      tooLargeHint,
    ].join('\n'),
  );
  await refused(
    { jobId: '7716.vm', user, resources: 'nodes=1:ppn=2:ppn=3' },
    ["vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:", '  - nodes=1:ppn=2:ppn=3: ppn is given twice', invalidHint].join('\n'),
  );
  await refused(
    { jobId: '7717.vm', user, resources: 'nodes=2:ppn=1,mem=lots' },
    [
      "vmbatch: JOB_SIZE_INVALID: the job's CPU and memory request is invalid:",
      '  - nodes=2:ppn=1 asks for 2 nodes: vmbatch runs the job in one guest, on its first node: ask for nodes=1:ppn=P',
      '  - mem=lots: is not a size: write a whole number with an optional unit b, kb, mb, gb, tb (or w, kw, mw, gw, tw: words of 8 bytes), e.g. mem=2gb',
      invalidHint,
    ].join('\n'),
  );
});

test('`vmbatch plan` shows the size and where it came from; mem=1kb is raised to the minimum, not refused', async () => {
  const plan = async (jobId: string, resources: string) => {
    const job = { jobId, user };
    const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
    const run = await execa(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'plan', jobId, user.user, user.group, script, `--resources=${resources}`], {
      env: { VMBATCH_CONFIG: mom.configFile },
      reject: false,
    });
    assert.is(run.exitCode, 0, run.stderr);
    return JSON.parse(run.stdout) as { guestSize: unknown; domainXml: string };
  };
  const small = await plan('7720.vm', 'mem=1kb,walltime=00:05:00,nodes=1,neednodes=1');
  assert.equal(small.guestSize, {
    vcpus: 1,
    memoryMiB: 256,
    from: { vcpus: "the template's default, <vcpu>1</vcpu>", memory: "mem=1kb asks for 1 MiB, raised to the minimum 256 MiB (<vbsize minmemory='256'>)" },
  });
  assert.match(small.domainXml, '<memory unit="MiB">256</memory>\n  <currentMemory unit="MiB">256</currentMemory>\n  <vcpu>1</vcpu>');
  const sized = await plan('7721.vm', 'nodes=1:ppn=3,pmem=300mb,walltime=00:05:00,neednodes=1:ppn=3');
  assert.equal(sized.guestSize, { vcpus: 3, memoryMiB: 900, from: { vcpus: 'nodes=1:ppn=3', memory: 'pmem=300mb × 3 vCPUs' } });
  assert.not.ok(existsSync(join(mom.stateDir, 'jobs', '7721.vm')), 'a dry run makes nothing');
  assert.equal(await mine(), nothingLeft);
});

test.run();
