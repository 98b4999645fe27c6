// The pool end to end through the Torque harness and qemu:///system: `vmbatch warm fill`
// restores guests from the saved state and keeps them paused, reachable by root alone; a job
// takes one (its context inserted, its sockets handed over, the guest resumed), runs in it as the
// submitter, and the guest ends with the job; the prologue tops the pool up behind the job. A
// broken waiting guest falls back to a warm start; idle guests, a dropped state's guests and a
// guest whose job vanished end; a template with build='auto' gets its state from its first job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { domainsDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { settleFills } from '../helpers/warm-fills.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type HookRun, type JobSpec, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let other: HostUser;
let mom: Mom;
let before: string[];

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const workdirShare = "<vbshare source='workdir' mode='rw'/>";
const withWarm = (tag: string) => shipped.replace(workdirShare, `<vbshare source='workdir' mode='rw' method='stage'/>\n    ${tag}`);

test.before(async () => {
  assert.ok(shipped.includes(workdirShare), 'the shipped template shares the working directory');
  user = await ensureHostUser('vbe2e', 31337, 31338);
  other = await ensureHostUser('vbother', 31339, 31340);
  // autoguest differs from poolguest (its size) so that each has a saved state of its own
  mom = await setupMom({
    domains: {
      poolguest: withWarm("<vbwarmstart pool='1' idle='600'/>"),
      autoguest: withWarm("<vbwarmstart build='auto'/>").replace("<memory unit='MiB'>256</memory>", "<memory unit='MiB'>320</memory>"),
    },
  });
  before = (await leftovers(mom)).domains;
});
test.after(async () => {
  await settleFills(mom.logFile);
  await vmbatch(['warm', 'drop', 'poolguest']);
  await vmbatch(['warm', 'drop', 'autoguest']);
  teardownMom(mom);
  for (const dir of submitDirs) rmSync(dir, { recursive: true, force: true });
});

function vmbatch(args: string[]) {
  return execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
}

const submitDirs: string[] = [];
function submitDir(jobId: string): string {
  const dir = freshWorkdir(user, `pool-${jobId}-`);
  submitDirs.push(dir);
  return dir;
}

// The pool guests on the node: id → its record (undefined while made or ended).
function poolGuests(): Map<string, { claimedBy?: string; waitingSince: string } | undefined> {
  const jobs = join(mom.stateDir, 'jobs');
  const ids = existsSync(jobs) ? readdirSync(jobs).filter((n) => n.startsWith('pool-')) : [];
  return new Map(
    ids.map((id) => [id, existsSync(join(jobs, id, 'pool.json')) ? (JSON.parse(readFileSync(join(jobs, id, 'pool.json'), 'utf8')) as { claimedBy?: string; waitingSince: string }) : undefined]),
  );
}
const waiting = () => [...poolGuests()].filter(([, r]) => r && r.claimedBy === undefined).map(([id]) => id);

// The fields of a job's lines in the log: ready's start and domain, and why the pool failed it.
function logOf(jobId: string): { start?: string; domain?: string; poolFailed?: string } {
  const lines = readFileSync(mom.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`job=${jobId} `) || l.endsWith(`job=${jobId}`));
  const field = (msg: string, name: string) => {
    const line = lines.find((l) => l.includes(`msg="${msg}"`));
    return line && (new RegExp(`${name}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(line)?.[1] ?? '').replace(/^"|"$/g, '');
  };
  return { start: field('ready', 'start'), domain: field('ready', 'domain'), poolFailed: field('pool guest failed, starting', 'error') };
}

async function runJob(job: JobSpec, body: string): Promise<HookRun> {
  const script = writeJobScript(mom, job, body);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  assert.is(pro.stderr, '');
  const run = await runJobStarter(mom, job, script);
  assert.is((await runEpilogue(mom, job, script, run.exitCode)).exitCode, 0);
  return run;
}

// Connects to a unix socket: prints the error code, or 'connected'.
const connect = "require('net').connect(process.argv[1]).on('error', (e) => console.log(e.code)).on('connect', () => { console.log('connected'); process.exit(0); })";

const identityScript = `#!/bin/sh
echo "uid=$(id -u) gid=$(id -g) user=$(id -un) pwd=$(pwd)"
cat input.txt
ls "$HOME" | grep '^marker' || echo "no marker"
touch "$HOME/marker-$PBS_JOBID"
echo "result of $PBS_JOBID" > result.txt
`;

test('warm fill says what it needs before a state exists, then starts the pool: a paused guest only root can reach', async () => {
  const early = await vmbatch(['warm', 'fill', 'poolguest']);
  assert.is(early.exitCode, 1);
  assert.match(
    early.stdout,
    new RegExp(`^${mom.domainsDir}/poolguest.xml: no guest started: no saved state for this guest \\(1 vCPU\\(s\\), 256 MiB\\) yet \\(vmbatch warm build TEMPLATE --vcpus 1 --memory 256 makes it\\)$`),
  );
  assert.is((await vmbatch(['warm', 'build', 'poolguest'])).exitCode, 0);
  const fill = await vmbatch(['warm', 'fill', 'poolguest']);
  assert.is(fill.exitCode, 0, fill.stderr);
  const [id] = waiting();
  assert.match(id ?? '', /^pool-[0-9a-f]{12}-1$/);
  assert.is(fill.stdout, `${mom.domainsDir}/poolguest.xml: 1 of 1 guest(s) waiting (started ${id})`);
  assert.is((await execa('virsh', ['-c', 'qemu:///system', 'domstate', `vmbatch-${id}`])).stdout.trim(), 'paused');
  const again = await vmbatch(['warm', 'fill', 'poolguest']);
  assert.is(again.stdout, `${mom.domainsDir}/poolguest.xml: 1 of 1 guest(s) waiting`);
  const list = await vmbatch(['warm', 'list']);
  assert.match(list.stdout, new RegExp(`^${id}  ${mom.domainsDir}/poolguest.xml  waiting since \\S+ \\(idle limit 600 s\\)$`, 'm'));
  // its SSH socket is root's: another local user (or the submitter, before a job takes it) cannot connect
  const socket = join(mom.stateDir, 'jobs', id!, 'ssh.sock');
  assert.is(`${statSync(socket).uid}:${(statSync(socket).mode & 0o777).toString(8)}`, '0:600');
  for (const who of [other, user]) assert.is((await execa(process.execPath, ['-e', connect, socket], { uid: who.uid, gid: who.gid })).stdout, 'EACCES');
});

test('a job takes the waiting guest: it runs there as the submitter with its files, the guest ends with it, and the pool is topped up behind it', async () => {
  const [id] = waiting();
  const job = { jobId: '8420.vm', user, workdir: submitDir('8420'), resources: 'other=vbdomain=poolguest' };
  const run = await runJob(job, identityScript);
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, `uid=31337 gid=31338 user=vbe2e pwd=${job.workdir}\ninput from the node\nno marker`);
  assert.is(readFileSync(join(job.workdir, 'result.txt'), 'utf8'), 'result of 8420.vm\n');
  assert.equal(logOf(job.jobId), { start: 'pool', domain: `vmbatch-${id}`, poolFailed: undefined });
  // the prologue started a fill once the job was ready: a new guest waits, the job's is gone
  await settleFills(mom.logFile);
  const now = waiting();
  assert.is(now.length, 1);
  assert.is.not(now[0], id);
  assert.equal(poolGuests().has(id!), false);
  assert.equal((await leftovers(mom)).domains.sort(), [...before, `vmbatch-${now[0]}`].sort());
});

test("the next job gets a fresh guest: nothing the last job wrote is there; its context and sockets are the job's alone", async () => {
  const [id] = waiting();
  const record = poolGuests().get(id!) as unknown as { uid: number };
  const job = { jobId: '8421.vm', user, workdir: submitDir('8421'), resources: 'other=vbdomain=poolguest' };
  const script = writeJobScript(mom, job, identityScript);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  // the job's context ISO (its host key, its user's key): the taken guest's qemu uid alone reads it
  const iso = join(mom.stateDir, 'jobs', job.jobId, 'context.iso');
  assert.is(`${statSync(iso).uid}:${(statSync(iso).mode & 0o777).toString(8)}`, `${record.uid}:400`);
  const read = await execa('head', ['-c', '1', iso], { uid: other.uid, gid: other.gid, reject: false });
  assert.match(read.stderr, /Permission denied/);
  // the guest's SSH channel is now the submitter's: another local user still cannot connect
  const socket = join(mom.stateDir, 'jobs', id!, 'ssh.sock');
  assert.is(`${statSync(socket).uid}:${(statSync(socket).mode & 0o777).toString(8)}`, `${user.uid}:600`);
  assert.is((await execa(process.execPath, ['-e', connect, socket], { uid: other.uid, gid: other.gid })).stdout, 'EACCES');
  assert.is((await execa(process.execPath, ['-e', connect, socket], { uid: user.uid, gid: user.gid })).stdout, 'connected');
  const run = await runJobStarter(mom, job, script);
  assert.is((await runEpilogue(mom, job, script, run.exitCode)).exitCode, 0);
  assert.is(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, /\nno marker$/);
  assert.is(logOf(job.jobId).start, 'pool');
  await settleFills(mom.logFile);
});

test('two jobs at once with one guest waiting: one takes it, the other starts warm, and both run', async () => {
  const jobs = ['8422', '8423'].map((n) => ({ jobId: `${n}.vm`, user, workdir: submitDir(n), resources: 'other=vbdomain=poolguest' }));
  const runs = await Promise.all(jobs.map((job) => runJob(job, identityScript)));
  for (const run of runs) assert.is(run.exitCode, 0, run.stderr);
  assert.equal(jobs.map((j) => logOf(j.jobId).start).sort(), ['pool', 'warm']);
  await settleFills(mom.logFile);
  assert.is(waiting().length, 1);
});

test('a waiting guest that broke (its qemu gone) fails over to a warm start; nothing of it is left', async () => {
  const [id] = waiting();
  await execa('virsh', ['-c', 'qemu:///system', 'destroy', `vmbatch-${id}`]);
  const job = { jobId: '8424.vm', user, workdir: submitDir('8424'), resources: 'other=vbdomain=poolguest' };
  const run = await runJob(job, identityScript);
  assert.is(run.exitCode, 0, run.stderr);
  const seen = logOf(job.jobId);
  assert.is(seen.start, 'warm');
  assert.match(seen.poolFailed ?? '', `vmbatch-${id}`);
  await settleFills(mom.logFile);
  assert.equal(poolGuests().has(id!), false);
  assert.is(waiting().length, 1);
});

test('reconcile ends a guest idle past its limit, and one whose job is gone', async () => {
  const [id] = waiting();
  const file = join(mom.stateDir, 'jobs', id!, 'pool.json');
  const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...record, waitingSince: new Date(Date.now() - 3_600_000).toISOString() }));
  assert.is((await vmbatch(['reconcile'])).exitCode, 0);
  assert.equal(poolGuests().has(id!), false);
  assert.equal((await leftovers(mom)).domains, before);
  // a guest taken by a job that vanished without an epilogue
  assert.is((await vmbatch(['warm', 'fill', 'poolguest'])).exitCode, 0);
  const [taken] = waiting();
  const file2 = join(mom.stateDir, 'jobs', taken!, 'pool.json');
  writeFileSync(file2, JSON.stringify({ ...JSON.parse(readFileSync(file2, 'utf8')), claimedBy: '8499.vm' }));
  const reconcile = await vmbatch(['reconcile']);
  assert.match(reconcile.stdout, `removed domain vmbatch-${taken} (the job that took it from the pool is gone)`);
  assert.equal(poolGuests().has(taken!), false);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test("warm drop ends the dropped state's waiting guests", async () => {
  assert.is((await vmbatch(['warm', 'fill', 'poolguest'])).exitCode, 0);
  const [id] = waiting();
  const drop = await vmbatch(['warm', 'drop', 'poolguest']);
  assert.match(drop.stdout, new RegExp(`^dropped \\S+\\nended waiting guest ${id}$`));
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test("build='auto': the first job boots and its prologue builds the state behind it; the next job starts warm", async () => {
  const first = { jobId: '8425.vm', user, workdir: submitDir('8425'), resources: 'other=vbdomain=autoguest' };
  assert.is((await runJob(first, identityScript)).exitCode, 0);
  assert.is(logOf(first.jobId).start, 'cold');
  await settleFills(mom.logFile);
  assert.match((await vmbatch(['warm', 'list'])).stdout, new RegExp(`${mom.domainsDir}/autoguest.xml  [0-9.]+ MiB  1 vCPU\\(s\\) 320 MiB  built \\S+  current`));
  const next = { jobId: '8426.vm', user, workdir: submitDir('8426'), resources: 'other=vbdomain=autoguest' };
  assert.is((await runJob(next, identityScript)).exitCode, 0);
  assert.is(logOf(next.jobId).start, 'warm');
  await settleFills(mom.logFile);
  assert.equal(await leftovers(mom), { domains: before, jobs: [], ports: [], attempts: [] });
});

test.run();
