// vmbatch replaced under running jobs (a package upgrade on a busy node): a job whose prologue
// ran under the old version still gets its remoteshell and its epilogue from the new one, and a
// job script already running when the files are swapped finishes. With the package under test
// (VMBATCH_UNDER_TEST=package, as CI runs) the upgrade is real: `dpkg -i` of the same package
// rebuilt with a higher version, then the original again; with the checkout, the hooks run from a
// copy whose files are swapped the way dpkg swaps them (each renamed over the old one).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { underTest } from '../helpers/paths.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, startJobStarter, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let mom: Mom;
let user: HostUser;
let before: string[];
const packageDeb = process.env.VMBATCH_PACKAGE_DEB;
const scratch: string[] = [];

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom({ copyTree: underTest.kind === 'checkout' });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  teardownMom(mom);
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  if (underTest.kind === 'package' && packageDeb) await execa('dpkg', ['-i', packageDeb], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
});

const installedVersion = async () => (await execa('dpkg-query', ['-W', '-f=${Version}', 'vmbatch'])).stdout;

// Replaces vmbatch under the node's hooks: returns what is installed afterwards.
async function upgrade(to: 'newer' | 'original'): Promise<string> {
  if (underTest.kind === 'package') {
    if (!packageDeb) throw new Error('VMBATCH_PACKAGE_DEB must name the package under test (.ci/run sets it)');
    const deb = to === 'newer' ? await newerPackage(packageDeb) : packageDeb;
    // dpkg -i, not apt: the newer package exists only here
    await execa('dpkg', ['-i', deb], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return installedVersion();
  }
  const tree = join(mom.root, 'vmbatch', 'dist');
  const fresh = `${tree}.next`;
  cpSync(tree, fresh, { recursive: true });
  // as dpkg does: every file renamed over its old version, directory by directory
  swapFiles(fresh, tree);
  rmSync(fresh, { recursive: true, force: true });
  return to;
}

function swapFiles(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) swapFiles(join(from, entry.name), join(to, entry.name));
    else renameSync(join(from, entry.name), join(to, entry.name));
  }
}

// The same package with a higher version and every bundled file changed, as a real upgrade is.
async function newerPackage(deb: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-upgrade-'));
  scratch.push(dir);
  await execa('dpkg-deb', ['-R', deb, join(dir, 'root')]);
  const control = join(dir, 'root', 'DEBIAN', 'control');
  const version = await installedVersion();
  await execa('sed', ['-i', `s/^Version: .*/Version: ${version}+upgrade1/`, control]);
  const lib = join(dir, 'root', 'usr', 'lib', 'vmbatch');
  for (const file of readdirSync(lib).filter((f) => f.endsWith('.mjs') || f.endsWith('.cjs'))) writeFileSync(join(lib, file), '\n// upgraded\n', { flag: 'a' });
  await execa('dpkg-deb', ['--root-owner-group', '-b', join(dir, 'root'), join(dir, 'vmbatch-upgraded.deb')]);
  return join(dir, 'vmbatch-upgraded.deb');
}

test('a job started under one version, upgraded while its script runs: the script finishes, the epilogue of the new version removes everything', async () => {
  const job = { jobId: '8301.vm', user };
  // the job waits in its guest for a file in its (shared) working directory, which the test makes once the upgrade is done
  const release = join(user.home, `release-8301-${process.pid}`);
  const script = writeJobScript(mom, job, `#!/bin/sh\necho started\nwhile [ ! -e ${release} ]; do sleep 0.2; done\necho released\n`);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const running = startJobStarter(mom, job, script);
  await running.printed('started');
  const version = await upgrade('newer');
  if (underTest.kind === 'package') assert.match(version, /\+upgrade1$/);
  writeFileSync(release, '');
  const run = await running.ended;
  rmSync(release, { force: true });
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, 'started\nreleased');
  assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('a prologue under the new version, the package replaced again before the job starts: remoteshell and epilogue of the other version run the job', async () => {
  const job = { jobId: '8302.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho "in $(uname -n) as $(id -un)"\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  await upgrade('original');
  const run = await runJobStarter(mom, job, script);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, 'in vmbatch-guest as vbe2e');
  assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
