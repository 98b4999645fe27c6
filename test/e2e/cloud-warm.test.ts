// Warm start of the stock Debian cloud-init guest through the Torque harness: `vmbatch warm build`
// boots it once with a seed that starts the warm-start agent (nothing of vmbatch is in the
// image), saves it; a job restores it, the agent runs the job's vmbatch-style context (user,
// keys, staged files), and the job runs as the submitter over OpenSSH. Nothing is left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { domainsDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let mom: Mom;
let before: string[];
const dirs: string[] = [];

const shipped = readFileSync(join(domainsDir, 'cloudguest.xml'), 'utf8');
const workdirShare = "<vbshare source='workdir' mode='rw'/>";
const warmXml = shipped.replace(workdirShare, "<vbshare source='workdir' mode='rw' method='stage'/>\n    <vbwarmstart/>");

test.before(async () => {
  assert.ok(shipped.includes(workdirShare), 'the shipped cloud template shares the working directory');
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ domains: { cloudwarm: warmXml }, config: { prologueBudgetSeconds: 280 } });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  await execa(process.execPath, [cliPath, 'warm', 'drop', 'cloudwarm'], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
  teardownMom(mom);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('the cloud-init guest: built once with the agent seed, then a job restored from it runs as the submitter with its files', async () => {
  const built = await execa(process.execPath, [cliPath, 'warm', 'build', 'cloudwarm'], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
  assert.is(built.exitCode, 0, built.stderr);
  assert.match(built.stdout, /: saved in \S+: booted in [0-9.]+ s, state [0-9.]+ MiB, 1 vCPU\(s\), 1024 MiB$/);
  const dir = freshWorkdir(user, 'cloud-warm-');
  dirs.push(dir);
  const job = { jobId: '8410.vm', user, workdir: dir, resources: 'other=vbdomain=cloudwarm' };
  const script = writeJobScript(
    mom,
    job,
    '#!/bin/sh\necho "$(id -un) $(id -u):$(id -g) $(pwd)"\ncat input.txt\necho "random=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d \' \\n\')"\necho done > result.txt\n',
  );
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const run = await runJobStarter(mom, job, script);
  assert.is((await runEpilogue(mom, job, script, run.exitCode)).exitCode, 0);
  assert.is(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^vbe2e 31337:31338 ${dir}\\ninput from the node\\nrandom=[0-9a-f]{16}$`));
  assert.is(readFileSync(join(dir, 'result.txt'), 'utf8'), 'done\n');
  const ready = readFileSync(mom.logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('msg="ready"') && l.includes(`job=${job.jobId} `));
  assert.match(ready ?? '', ' start=warm ', readFileSync(mom.logFile, 'utf8'));
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
