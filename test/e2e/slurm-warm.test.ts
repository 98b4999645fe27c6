// Warm start under Slurm as under Torque: the same startJob restores the saved test guest for an
// sbatch job of a <vbwarmstart/> template; the script runs as the submitter in its (staged)
// submit directory, and nothing is left on the node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { domainsDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { settleFills } from '../helpers/warm-fills.js';
import { setupSlurmNode, slurmLeftovers, slurmNodeConfig, submit, teardownSlurmNode, waitForJobEnd, type SlurmNode } from '../slurm/cluster.js';

let node: SlurmNode;
let user: HostUser;

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const warmXml = shipped.replace("<vbshare source='workdir' mode='rw'/>", "<vbshare source='workdir' mode='rw' method='stage'/>\n    <vbwarmstart/>");
const poolXml = warmXml.replace('<vbwarmstart/>', "<vbwarmstart pool='1'/>");
const vmbatch = (args: string[]) => execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: slurmNodeConfig }, reject: false });

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  node = setupSlurmNode({ domains: { warmguest: warmXml, poolguest: poolXml } });
  const built = await vmbatch(['warm', 'build', 'warmguest']);
  assert.is(built.exitCode, 0, built.stderr);
});
test.after(async () => {
  await settleFills(node.logFile);
  await vmbatch(['warm', 'drop', 'poolguest']);
  await vmbatch(['warm', 'drop', 'warmguest']);
  teardownSlurmNode(node);
});

test('sbatch --vm-domain of a warm-start template, asking for its default size (256 MiB): the guest is restored, the script runs as the submitter with its files', async () => {
  const dir = freshWorkdir(user, 'slurm-warm-');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --vm-domain=warmguest --mem=256M --output=out.txt\necho "$(id -un) $(id -u):$(id -g) $(pwd)"\ncat input.txt\necho done > result.txt\n');
  const record = await waitForJobEnd(jobId);
  const out = readFileSync(join(dir, 'out.txt'), 'utf8');
  assert.is(record?.ExitCode, '0:0', out);
  assert.is(out, `vbe2e 31337:31338 ${dir}\ninput from the node\n`);
  assert.is(readFileSync(join(dir, 'result.txt'), 'utf8'), 'done\n');
  const ready = readFileSync(node.logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('hook=slurm-prolog msg="ready"') && l.includes(`job=${jobId} `));
  assert.match(
    ready ?? '',
    ' start=warm ',
    readFileSync(node.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(jobId))
      .join('\n'),
  );
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });
});

test('a template with a pool: the sbatch job takes the waiting guest, runs there as the submitter, and the prolog tops the pool up behind it', async () => {
  const fill = await vmbatch(['warm', 'fill', 'poolguest']);
  assert.match(fill.stdout, /: 1 of 1 guest\(s\) waiting \(started (pool-[0-9a-f]{12}-1)\)$/);
  const waiting = /started (pool-[0-9a-f]{12}-1)/.exec(fill.stdout)![1]!;
  const dir = freshWorkdir(user, 'slurm-pool-');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --vm-domain=poolguest --mem=256M --output=out.txt\necho "$(id -un) $(id -u):$(id -g) $(pwd)"\ncat input.txt\n');
  const record = await waitForJobEnd(jobId);
  const out = readFileSync(join(dir, 'out.txt'), 'utf8');
  assert.is(record?.ExitCode, '0:0', out);
  assert.is(out, `vbe2e 31337:31338 ${dir}\ninput from the node\n`);
  const ready = readFileSync(node.logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('hook=slurm-prolog msg="ready"') && l.includes(`job=${jobId} `));
  assert.match(ready ?? '', ` domain=vmbatch-${waiting} start=pool `);
  await settleFills(node.logFile);
  // the job's guest is gone with it; a new one waits
  const left = await slurmLeftovers(node);
  assert.is(left.jobs.length, 1);
  assert.match(left.jobs[0]!, /^pool-[0-9a-f]{12}-[0-9]+$/);
  assert.is.not(left.jobs[0], waiting);
  assert.equal(left.domains, [`vmbatch-${left.jobs[0]}`]);
  assert.is((await vmbatch(['warm', 'drop', 'poolguest'])).exitCode, 0);
  assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });
});

test.run();
