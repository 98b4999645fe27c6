// Warm start end to end through the Torque harness and qemu:///system: `vmbatch warm build`
// saves the test guest once; jobs restore it (each under its own name, UUID, overlays and
// sockets), get their context on the CD-ROM inserted after the restore, and run as the submitter
// with their staged files. Two copies of one state differ in machine-id, random bytes, host key
// and disk. A stale, broken or foreign-owned state boots the job instead, with a log line; the
// state is root's alone; list and drop work; nothing is left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, copyFileSync, chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { domainsDir, testGuestDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { waitForFs } from '../helpers/wait-for-fs.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type HookRun, type JobSpec, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let other: HostUser;
let mom: Mom;
let scratch: string;
let before: string[];

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const workdirShare = "<vbshare source='workdir' mode='rw'/>";
const warmXml = shipped.replace(workdirShare, "<vbshare source='workdir' mode='rw' method='stage'/>\n    <vbwarmstart/>");

test.before(async () => {
  assert.ok(shipped.includes(workdirShare), 'the shipped template shares the working directory');
  user = await ensureHostUser('vbe2e', 31337, 31338);
  other = await ensureHostUser('vbother', 31339, 31340);
  scratch = mkdtempSync('/tmp/vmbatch-warm-');
  chmodSync(scratch, 0o755);
  // a template whose base disk is a copy this test may change (the stale case)
  copyFileSync(join(testGuestDir, 'disk.qcow2'), join(scratch, 'disk.qcow2'));
  const staleXml = warmXml.replace(`${testGuestDir}/disk.qcow2`, join(scratch, 'disk.qcow2'));
  mom = await setupMom({ domains: { warmguest: warmXml, warmcopy: staleXml } });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  await vmbatch(['warm', 'drop', 'warmguest']);
  await vmbatch(['warm', 'drop', 'warmcopy']);
  teardownMom(mom);
  rmSync(scratch, { recursive: true, force: true });
  for (const dir of submitDirs) rmSync(dir, { recursive: true, force: true });
});

function vmbatch(args: string[]) {
  return execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
}

// A fresh submit directory below the user's home, theirs, holding input.txt (removed at the end).
const submitDirs: string[] = [];
function submitDir(jobId: string): string {
  const dir = freshWorkdir(user, `warm-${jobId}-`);
  submitDirs.push(dir);
  return dir;
}

// How the prologue started each job's guest: the `start=` of its ready line, and why warm start was not used.
function startsOf(jobId: string): { start: string | undefined; notUsed: string | undefined; failed: string | undefined } {
  const lines = readFileSync(mom.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`job=${jobId} `) || l.endsWith(`job=${jobId}`));
  const field = (msg: string, name: string) => {
    const line = lines.find((l) => l.includes(`msg="${msg}"`));
    return line && (new RegExp(`${name}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(line)?.[1] ?? '').replace(/^"|"$/g, '');
  };
  return {
    start: field('ready', 'start'),
    notUsed: field('warm start not used', 'reason'),
    failed: field('warm start failed, booting', 'error') ?? field('warm-started guest not ready, booting', 'error'),
  };
}

async function prologue(job: JobSpec, body: string): Promise<string> {
  const script = writeJobScript(mom, job, body);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  assert.is(pro.stderr, '');
  return script;
}

async function finish(job: JobSpec, script: string, run: HookRun): Promise<void> {
  assert.is((await runEpilogue(mom, job, script, run.exitCode)).exitCode, 0);
}

const identityScript = `#!/bin/sh
echo "uid=$(id -u) gid=$(id -g) user=$(id -un) pwd=$(pwd)"
cat input.txt
echo "machine-id=$(cat /etc/machine-id)"
echo "random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')"
echo "clock=$(date +%s)"
ls "$HOME" | grep '^marker' || echo "no marker"
touch "$HOME/marker-$PBS_JOBID"
echo "result of $PBS_JOBID" > result.txt
`;

test('warm build boots the template once and saves it; list shows it current; a second build keeps it', async () => {
  const built = await vmbatch(['warm', 'build', 'warmguest']);
  assert.is(built.exitCode, 0, built.stderr);
  const dir = /saved in (\S+): booted in [0-9.]+ s, state [0-9.]+ MiB, 1 vCPU\(s\), 256 MiB$/.exec(built.stdout)?.[1];
  assert.ok(dir, built.stdout);
  assert.is(built.stdout.startsWith(`${mom.domainsDir}/warmguest.xml: saved in ${dir}`), true);
  // the memory is root's alone; the frozen disk is every job's base, read-only to the guests' group
  const mode = (f: string) => `${statSync(f).uid}:${(statSync(f).mode & 0o7777).toString(8)}`;
  assert.is(mode(join(dir, 'memory.state')), '0:600');
  assert.is(mode(join(dir, 'disk-vda.qcow2')), '0:640');
  assert.is(mode(dir), '0:750');
  const list = await vmbatch(['warm', 'list']);
  assert.match(list.stdout, new RegExp(`^[0-9a-f]{16}  ${mom.domainsDir}/warmguest.xml  [0-9.]+ MiB  1 vCPU\\(s\\) 256 MiB  built \\S+  current$`));
  const again = await vmbatch(['warm', 'build', 'warmguest']);
  assert.is(again.stdout, `${mom.domainsDir}/warmguest.xml: the saved state ${dir} is current (use --force to make it again)`);
  // the build's domain is gone, and so is its uid reservation
  assert.equal((await leftovers(mom)).domains, before);
  assert.equal(readdirSync(join(mom.stateDir, 'guest-uids')), []);
});

test('a job of another size boots, and says which build it needs; after that build it starts warm', async () => {
  const job = { jobId: '8405.vm', user, workdir: submitDir('8405'), resources: 'other=vbdomain=warmguest,mem=512mb' };
  const script = await prologue(job, identityScript);
  await finish(job, script, await runJobStarter(mom, job, script));
  assert.equal(startsOf(job.jobId), {
    start: 'cold',
    notUsed: 'no saved state for this guest (1 vCPU(s), 512 MiB) yet (vmbatch warm build TEMPLATE --vcpus 1 --memory 512 makes it)',
    failed: undefined,
  });
  const refused = await vmbatch(['warm', 'build', 'warmguest', '--memory', '4096']);
  assert.is(refused.exitCode, 1);
  assert.match(refused.stderr, "4096 MiB is above the template's <vbsize maxmemory='2048'>");
  const built = await vmbatch(['warm', 'build', 'warmguest', '--vcpus', '1', '--memory', '512']);
  assert.match(built.stdout, /: saved in \S+: booted in [0-9.]+ s, state [0-9.]+ MiB, 1 vCPU\(s\), 512 MiB$/);
  const again = { ...job, jobId: '8406.vm', workdir: submitDir('8406') };
  const script2 = await prologue(again, identityScript);
  const run = await runJobStarter(mom, again, script2);
  await finish(again, script2, run);
  assert.is(run.exitCode, 0, run.stderr);
  assert.equal(startsOf(again.jobId), { start: 'warm', notUsed: undefined, failed: undefined });
});

test("while a build runs, its guest's uid stays its own: reconcile and a job's prologue leave its reservation alone", async () => {
  const uids = join(mom.stateDir, 'guest-uids');
  const build = vmbatch(['warm', 'build', 'warmguest', '--force']);
  await waitForFs(mom.stateDir, () => readdirOrNone(uids).length > 0);
  const [held] = readdirOrNone(uids);
  const reconcile = await vmbatch(['reconcile']);
  assert.is(reconcile.exitCode, 0, reconcile.stderr);
  assert.equal(readdirOrNone(uids), [held]);
  const job = { jobId: '8407.vm', user, workdir: submitDir('8407'), resources: 'other=vbdomain=testguest' };
  const script = await prologue(job, '#!/bin/sh\ntrue\n');
  try {
    // the job's qemu runs as another uid than the build's (its domain's static label says which)
    const label = /<label>\+(\d+):\+\d+<\/label>/.exec(readFileSync(join(mom.stateDir, 'jobs', job.jobId, 'domain.xml'), 'utf8'))?.[1];
    assert.ok(label, 'the job has a uid of its own');
    assert.is.not(label, held, 'the job got a uid of its own');
  } finally {
    await finish(job, script, await runJobStarter(mom, job, script));
  }
  assert.is((await build).exitCode, 0);
  assert.equal(readdirOrNone(uids), []);
});

function readdirOrNone(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

test('a hostile local user cannot read the saved state or the frozen disk', async () => {
  const dir = join(
    mom.stateDir,
    'warm',
    readdirSync(join(mom.stateDir, 'warm')).find((n) => /^[0-9a-f]{16}$/.test(n))!,
  );
  for (const file of ['memory.state', 'disk-vda.qcow2']) {
    const read = await execa('head', ['-c', '1', join(dir, file)], { uid: other.uid, gid: other.gid, reject: false });
    assert.match(read.stderr, /Permission denied/);
  }
});

test('two warm jobs at once: each runs as the submitter with its files, and the copies differ in machine-id, random bytes, host key and disk', async () => {
  const jobs = ['8400', '8401'].map((id) => ({ jobId: `${id}.vm`, user, workdir: submitDir(id), resources: 'other=vbdomain=warmguest' }));
  const scripts = await Promise.all(jobs.map((job) => prologue(job, identityScript)));
  const runs = await Promise.all(jobs.map((job, i) => runJobStarter(mom, job, scripts[i]!)));
  const keys = jobs.map((job) => (JSON.parse(readFileSync(join(mom.stateDir, 'jobs', job.jobId, 'state.json'), 'utf8')) as { hostPublicKey: string }).hostPublicKey);
  await Promise.all(jobs.map((job, i) => finish(job, scripts[i]!, runs[i]!)));
  const seen = runs.map((run, i) => {
    assert.is(run.exitCode, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.is(lines[0], `uid=31337 gid=31338 user=vbe2e pwd=${jobs[i]!.workdir}`);
    assert.is(lines[1], 'input from the node');
    // its own disk: no marker of the other job, which wrote to its own overlay
    assert.is(lines[5], 'no marker');
    assert.is(readFileSync(join(jobs[i]!.workdir, 'result.txt'), 'utf8'), `result of ${jobs[i]!.jobId}\n`);
    assert.is(statSync(join(jobs[i]!.workdir, 'result.txt')).uid, user.uid);
    // the clock was set after the restore
    const clock = Number(/^clock=(\d+)$/.exec(lines[4]!)?.[1]);
    assert.ok(Math.abs(clock - Date.now() / 1000) < 30, lines[4]);
    assert.equal(startsOf(jobs[i]!.jobId), { start: 'warm', notUsed: undefined, failed: undefined });
    return { machineId: /^machine-id=([0-9a-f]{32})$/.exec(lines[2]!)?.[1], random: /^random=([0-9a-f]{32})$/.exec(lines[3]!)?.[1] };
  });
  assert.ok(seen[0]!.machineId && seen[1]!.machineId && seen[0]!.machineId !== seen[1]!.machineId, JSON.stringify(seen));
  assert.ok(seen[0]!.random && seen[1]!.random && seen[0]!.random !== seen[1]!.random, JSON.stringify(seen));
  assert.is.not(keys[0], keys[1]);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test('a stale state (the base disk changed since the build) boots the job instead, and says why', async () => {
  const built = await vmbatch(['warm', 'build', 'warmcopy']);
  assert.is(built.exitCode, 0, built.stderr);
  const base = join(scratch, 'disk.qcow2');
  utimesSync(base, new Date(), new Date(Date.now() + 5000));
  const list = await vmbatch(['warm', 'list']);
  assert.match(list.stdout, `${mom.domainsDir}/warmcopy.xml`);
  assert.match(list.stdout, `the saved state is stale: ${base} changed since the state was saved`);
  const job = { jobId: '8402.vm', user, workdir: submitDir('8402'), resources: 'other=vbdomain=warmcopy' };
  const script = await prologue(job, identityScript);
  const run = await runJobStarter(mom, job, script);
  await finish(job, script, run);
  assert.is(run.exitCode, 0, run.stderr);
  assert.equal(startsOf(job.jobId), { start: 'cold', notUsed: `the saved state is stale: ${base} changed since the state was saved`, failed: undefined });
});

test('a saved state a local user owns is not used: the job boots', async () => {
  const dir = join(
    mom.stateDir,
    'warm',
    readdirSync(join(mom.stateDir, 'warm')).find(
      (n) =>
        /^[0-9a-f]{16}$/.test(n) &&
        (JSON.parse(readFileSync(join(mom.stateDir, 'warm', n, 'meta.json'), 'utf8')) as { memoryMiB: number }).memoryMiB === 256 &&
        readFileSync(join(mom.stateDir, 'warm', n, 'meta.json'), 'utf8').includes('warmguest.xml'),
    )!,
  );
  const state = join(dir, 'memory.state');
  chownSync(state, other.uid, other.gid);
  try {
    const job = { jobId: '8403.vm', user, workdir: submitDir('8403'), resources: 'other=vbdomain=warmguest' };
    const script = await prologue(job, identityScript);
    const run = await runJobStarter(mom, job, script);
    await finish(job, script, run);
    assert.is(run.exitCode, 0, run.stderr);
    assert.equal(startsOf(job.jobId), { start: 'cold', notUsed: `the saved state is not root's alone: ${state} is owned by uid 31339, not by root`, failed: undefined });
  } finally {
    chownSync(state, 0, 0);
  }
});

test('a broken saved state (its stream cut short) fails the restore: the job boots instead and nothing of the attempt is left', async () => {
  const built = await vmbatch(['warm', 'build', 'warmguest', '--force']);
  assert.is(built.exitCode, 0, built.stderr);
  const dir = /saved in (\S+):/.exec(built.stdout)![1]!;
  truncateSync(join(dir, 'memory.state'), 200_000);
  const job = { jobId: '8404.vm', user, workdir: submitDir('8404'), resources: 'other=vbdomain=warmguest' };
  const script = await prologue(job, identityScript);
  const run = await runJobStarter(mom, job, script);
  await finish(job, script, run);
  assert.is(run.exitCode, 0, run.stderr);
  const starts = startsOf(job.jobId);
  assert.is(starts.start, 'cold');
  assert.match(starts.failed ?? '', 'could not be started from its saved state');
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test("warm drop removes a template's states; dropping again says there are none", async () => {
  const drop = await vmbatch(['warm', 'drop', 'warmguest']);
  assert.is(drop.exitCode, 0, drop.stderr);
  // the template's two states: its default size and 512 MiB
  assert.match(drop.stdout, /^dropped \S+\/warm\/[0-9a-f]{16}\ndropped \S+\/warm\/[0-9a-f]{16}$/);
  const again = await vmbatch(['warm', 'drop', 'warmguest']);
  assert.is(again.exitCode, 1);
  assert.is(again.stderr, `vmbatch: WARM_NOT_FOUND: no saved state matches ${mom.domainsDir}/warmguest.xml\n  hint: \`vmbatch warm list\` shows the saved states, each with its template and key`);
  assert.is((await vmbatch(['warm', 'drop', 'warmcopy'])).exitCode, 0);
  assert.is((await vmbatch(['warm', 'list'])).stdout, 'no saved states (vmbatch warm build TEMPLATE makes one)');
});

test.run();
