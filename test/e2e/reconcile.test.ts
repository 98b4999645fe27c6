// (e2e: boots guests and drives libvirt; the pure decisions are in test/cleanup/reconcile-plan.test.ts)
// `vmbatch reconcile` after missed epilogues, against real libvirt (qemu:///system), real
// files and real prologues through the Torque harness: what belongs to no live job goes, with a
// printed and a logged line each; what a live job or a running prologue holds stays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { leftovers, runEpilogue, runPrologue, setupMom, teardownMom, updateMomConfig, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { ensureOnceDisk } from '../../src/images/created-disk.js';
import { createCowOverlay } from '../../src/images/disk-formats.js';
import { readEntryMeta } from '../../src/images/cache-entry.js';
import { entryUsers } from '../../src/images/cache-users.js';
import { createLogger } from '../../src/log/logger.js';
import { recordAttempt } from '../../src/state/attempts.js';
import { currentBootId, processStartTicks } from '../../src/state/boot-id.js';
import { jobPaths } from '../../src/state/job-paths.js';
import { writeJobOwner } from '../../src/state/job-owner.js';
import { writeJobState } from '../../src/state/job-state.js';
import { reserveOne } from '../../src/state/reservations.js';
import { makeJobDir } from '../../src/plan/apply-plan.js';
import { startShares } from '../../src/share/start-shares.js';

const host = hostname();
const oldBoot = '00000000-0000-4000-8000-000000000000';
let user: HostUser;
let mom: Mom;
// what the node holds of this file's jobs: other helpers' guests share qemu:///system
const mine = async () => {
  const left = await leftovers(mom);
  return { ...left, domains: left.domains.filter((d) => /^vmbatch-76\d\d\.vm$/.test(d)) };
};
const nothingLeft = { domains: [], jobs: [], ports: [], attempts: [] };

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  mom = await setupMom();
});
test.after(async () => {
  for (const id of ['7600.vm', '7601.vm', '7602.vm', '7603.vm', '7606.vm']) await execa('virsh', ['-q', '-c', 'qemu:///system', 'destroy', `vmbatch-${id}`], { reject: false });
  teardownMom(mom);
});

const reconcile = (...args: string[]) => execa(process.execPath, [cliPath, 'reconcile', ...args], { env: { VMBATCH_CONFIG: mom.configFile }, reject: false });
const logLines = () =>
  existsSync(mom.logFile)
    ? readFileSync(mom.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('hook=reconcile'))
    : [];
const cacheDir = () => join(mom.stateDir, 'cache');
const domainState = async (name: string) => (await execa('virsh', ['-q', '-c', 'qemu:///system', 'domstate', name], { reject: false })).stdout.trim();
const ctx = (jobId: string) => ({
  cacheDir: cacheDir(),
  jobRef: `${host}--${jobId}`,
  deadline: Date.now() + 30_000,
  stallTimeoutMs: 5000,
  maxRedirects: 5,
  createOnceWaitMs: 0,
  createOnceSeeder: true,
  usesFile: jobPaths(mom.stateDir, jobId).cacheUses,
  log: createLogger(undefined, 'test'),
});
// rewrites the boot id a record carries, as if the node had rebooted since it was made
const fromOldBoot = (file: string) => writeFileSync(file, readFileSync(file, 'utf8').replace(currentBootId(), oldBoot));

// A job of an earlier boot whose epilogue never ran: its directory (state, owner, overlay),
// reservations of two kinds, an attempt counter, a use of a create='once' disk it seeds.
async function strandedJob(jobId: string) {
  const paths = jobPaths(mom.stateDir, jobId);
  makeJobDir(paths.dir);
  writeJobOwner(paths.dir);
  writeJobState(paths.stateFile, {
    version: 1,
    jobId,
    user: user.user,
    uid: user.uid,
    domainName: `vmbatch-${jobId}`,
    libvirtUri: 'qemu:///system',
    phase: 'ready',
    hostPublicKey: 'x',
    hostScriptPath: '/x',
    guestScriptPath: '/y',
    createdAt: new Date().toISOString(),
    bootId: currentBootId(),
  });
  const overlay = join(paths.dir, 'disk-vdb.qcow2');
  const once = await ensureOnceDisk(ctx(jobId), { name: 'stranded', sizeMiB: 8, format: 'qcow2', overlay, cow: 'qcow2' });
  assert.is(once.seed, true);
  await createCowOverlay({ cow: 'qcow2', base: once.paths.data, baseFormat: 'qcow2', virtualSize: once.meta.virtualSize, file: overlay });
  await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 64k', overlay]);
  assert.is(await reserveOne(mom.stateDir, 'addresses', jobId, ['10.0.2.70']), '10.0.2.70');
  assert.is(await reserveOne(mom.stateDir, 'guest-uids', jobId, ['200070']), '200070');
  recordAttempt(mom.stateDir, jobId);
  for (const file of [
    paths.stateFile,
    join(paths.dir, 'prologue.json'),
    join(mom.stateDir, 'addresses', '10.0.2.70'),
    join(mom.stateDir, 'guest-uids', '200070'),
    join(mom.stateDir, 'attempts', jobId),
  ])
    fromOldBoot(file);
  return once.paths;
}

test('a job of an earlier boot whose epilogue never ran: everything of it goes, one printed and one logged line each; its seed is dropped', async () => {
  const entry = await strandedJob('7600.vm');
  const dry = await reconcile('--dry-run');
  assert.is(dry.exitCode, 0, dry.stderr);
  const expected = [
    `seeding mark of ${entry.dir} (${host}--7600.vm) (from an earlier boot)`,
    `cache use record ${entry.users}/${host}--7600.vm (from an earlier boot)`,
    `reservation addresses/10.0.2.70 of job 7600.vm (from an earlier boot)`,
    `reservation guest-uids/200070 of job 7600.vm (from an earlier boot)`,
    `attempt counter ${mom.stateDir}/attempts/7600.vm (from an earlier boot)`,
    `job directory ${mom.stateDir}/jobs/7600.vm (from an earlier boot)`,
  ];
  assert.is(dry.stdout, [...expected.map((l) => `would remove ${l}`), '6 items would be removed'].join('\n'));
  assert.ok(existsSync(jobPaths(mom.stateDir, '7600.vm').dir), 'a dry run only prints');
  assert.equal(logLines(), []);

  const run = await reconcile();
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, [...expected.map((l) => `removed ${l}`), '6 items removed'].join('\n'));
  const logged = logLines();
  assert.is(logged.length, 6);
  assert.match(logged[5]!, `level=info hook=reconcile msg="removed" item=job what="job directory ${mom.stateDir}/jobs/7600.vm" job=7600.vm reason="from an earlier boot"`);
  assert.equal(await mine(), nothingLeft);
  assert.equal([readdirSync(join(mom.stateDir, 'addresses')), readdirSync(join(mom.stateDir, 'guest-uids'))], [[], []]);
  assert.equal(entryUsers(entry), []);
  assert.is(existsSync(entry.seeding), false);
  assert.is(readEntryMeta(entry)?.sealed, false, 'a dead seed is never committed');
  assert.is((await execa('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0 0 64k', entry.data], { reject: false })).exitCode, 0, 'the disk has none of its writes');

  const again = await reconcile();
  assert.is(again.stdout, 'nothing to reconcile', 'idempotent');
  assert.is(logLines().length, 6);
});

test("a leftover vmbatch-* domain without a job directory is destroyed; stale cache records and seeding marks of this node go, other nodes' stay", async () => {
  // a guest whose teardown removed the job directory but not the domain (its console log was in it)
  const orphanDir = jobPaths(mom.stateDir, '7602.vm').dir;
  makeJobDir(orphanDir);
  const xml = join(mom.root, 'orphan.xml');
  writeFileSync(
    xml,
    `<domain type='qemu'><name>vmbatch-7602.vm</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>` +
      `<devices><serial type='file'><source path='${orphanDir}/console.log'/><target port='0'/></serial></devices></domain>\n`,
  );
  await execa('virsh', ['-q', '-c', 'qemu:///system', 'create', xml]);
  rmSync(orphanDir, { recursive: true });
  assert.is(await domainState('vmbatch-7602.vm'), 'running');
  // a guest of another vmbatch (another state directory) on the same libvirt is not ours
  const foreignDir = join(mom.root, 'other-state', 'jobs', '7606.vm');
  makeJobDir(foreignDir);
  writeFileSync(xml, readFileSync(xml, 'utf8').replaceAll('7602.vm', '7606.vm').replace(`${mom.stateDir}/jobs/7606.vm`, foreignDir));
  await execa('virsh', ['-q', '-c', 'qemu:///system', 'create', xml]);
  // a job that is gone from this node left its marks (no directory: its epilogue was cut short)
  const once = await ensureOnceDisk({ ...ctx('7604.vm'), usesFile: join(mom.root, '7604.uses') }, { name: 'marked', sizeMiB: 8, format: 'qcow2', overlay: '/nonexistent', cow: 'qcow2' });
  assert.is(once.seed, true);
  const otherNode = join(once.paths.users, 'othernode--7604.vm');
  writeFileSync(otherNode, '');
  const deadFetch = join(once.paths.users, `${host}--fetch-999999999`);
  writeFileSync(deadFetch, '');
  const run = await reconcile();
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(
    run.stdout,
    [
      'removed domain vmbatch-7602.vm (no job directory)',
      `removed seeding mark of ${once.paths.dir} (${host}--7604.vm) (no job directory)`,
      `removed cache use record ${once.paths.users}/${host}--7604.vm (no job directory)`,
      `removed cache use record ${deadFetch} (the images fetch that made it no longer runs)`,
      // libvirt's log names the job directory in qemu's command line: ours, and it goes with the domain
      'removed libvirt log /var/log/libvirt/qemu/vmbatch-7602.vm.log (no job directory)',
      '5 items removed',
    ].join('\n'),
  );
  assert.is(await domainState('vmbatch-7602.vm'), '', 'the domain is gone');
  assert.is(await domainState('vmbatch-7606.vm'), 'running', "another state directory's guest stays");
  await execa('virsh', ['-q', '-c', 'qemu:///system', 'destroy', 'vmbatch-7606.vm']);
  assert.not.ok(existsSync('/var/log/libvirt/qemu/vmbatch-7602.vm.log'));
  assert.ok(existsSync('/var/log/libvirt/qemu/vmbatch-7606.vm.log'), "another state directory's log is that vmbatch's");
  rmSync('/var/log/libvirt/qemu/vmbatch-7606.vm.log');
  assert.equal(entryUsers(once.paths), ['othernode--7604.vm'], "another node's record is that node's to reconcile");
  assert.is(existsSync(once.paths.seeding), false);
  rmSync(otherNode);
  assert.is((await reconcile()).stdout, 'nothing to reconcile');
});

test('a running job of this boot is left alone while the batch system has it, and torn down once it does not', async () => {
  updateMomConfig(mom, { torque: { momPriv: mom.momPriv } });
  const job = { jobId: '7601.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho hi\n');
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const held = await mine();
  const run = await reconcile();
  assert.is(run.stdout, 'nothing to reconcile');
  assert.equal(await mine(), held);
  assert.is(await domainState('vmbatch-7601.vm'), 'running');
  // pbs_mom forgot the job (its epilogue was lost): now it is dead
  rmSync(script);
  const gone = await reconcile();
  assert.is(gone.exitCode, 0, gone.stderr);
  const lines = gone.stdout.split('\n');
  assert.is(lines[0], 'removed domain vmbatch-7601.vm (the batch system no longer has the job)');
  assert.is(lines.at(-3), `removed job directory ${mom.stateDir}/jobs/7601.vm (the batch system no longer has the job)`);
  assert.is(lines.at(-2), 'removed libvirt log /var/log/libvirt/qemu/vmbatch-7601.vm.log (the batch system no longer has the job)');
  assert.not.ok(existsSync('/var/log/libvirt/qemu/vmbatch-7601.vm.log'));
  assert.ok(
    lines.slice(1, -3).every((l) => l.startsWith('removed reservation guest-uids/') || l.startsWith('removed cache use record ')),
    gone.stdout,
  );
  assert.equal(await mine(), { ...nothingLeft, attempts: ['7601.vm'] }, 'the attempt counter of this boot stays for a requeue');
  assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0, 'the late epilogue still works');
  assert.equal(await mine(), nothingLeft);
  updateMomConfig(mom, { torque: {} });
});

test('a prologue running while reconcile runs again and again is not disturbed; without an oracle its guest keeps it live', async () => {
  const job = { jobId: '7603.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho hi\n');
  let done = false;
  const prologue = runPrologue(mom, job, script).finally(() => {
    done = true;
  });
  const outputs: string[] = [];
  while (!done) outputs.push((await reconcile()).stdout);
  const pro = await prologue;
  assert.is(pro.exitCode, 0, pro.stderr);
  assert.ok(outputs.length >= 2, `reconcile ran ${outputs.length} times during the prologue`);
  assert.equal([...new Set(outputs)], ['nothing to reconcile']);
  assert.is((await reconcile()).stdout, 'nothing to reconcile', 'the guest runs: the job is live');
  assert.is(await domainState('vmbatch-7603.vm'), 'running');
  assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  assert.equal(await mine(), nothingLeft);
});

test("a prologue killed after it started a share's file server (no guest ever connected): reconcile stops the server and removes its socket", async () => {
  const jobId = '7608.vm';
  const paths = jobPaths(mom.stateDir, jobId);
  makeJobDir(paths.dir);
  writeJobOwner(paths.dir);
  const workdir = join(user.home, 'reconcile-share');
  rmSync(workdir, { recursive: true, force: true });
  mkdirSync(workdir);
  chownSync(workdir, user.uid, user.gid);
  const shared = {
    what: 'workdir' as const,
    path: workdir,
    mode: 'rw' as const,
    tag: 'vbshare0',
    socket: join(paths.dir, 'share-0.sock'),
    pidFile: join(paths.dir, 'share-0.pid'),
    logFile: join(paths.dir, 'share-0.log'),
  };
  await startShares([shared], {
    submitter: { user: user.user, uid: user.uid, gid: user.gid, group: user.group, home: user.home, shell: '/bin/sh' },
    qemuUid: 1900000999,
    virtiofsd: '/usr/lib/qemu/virtiofsd',
    deadline: Date.now() + 30_000,
  });
  const pid = Number(readFileSync(shared.pidFile, 'utf8').split(' ')[0]);
  assert.ok(processStartTicks(pid) !== undefined, 'the file server waits for its guest');
  // the prologue that made the directory was of an earlier boot (it is dead)
  fromOldBoot(join(paths.dir, 'prologue.json'));
  const run = await reconcile();
  assert.is(run.exitCode, 0, run.stderr);
  assert.is(run.stdout, `removed job directory ${paths.dir} (from an earlier boot)\n1 item removed`);
  assert.is(processStartTicks(pid), undefined);
  assert.equal(await mine(), nothingLeft);
});

test('reconcile --json prints the plan as values', async () => {
  await strandedJob('7605.vm');
  const run = await reconcile('--dry-run', '--json');
  const out = JSON.parse(run.stdout) as { dryRun: boolean; items: { kind: string; reason: string; result: string }[] };
  assert.is(out.dryRun, true);
  assert.equal(
    out.items.map((i) => [i.kind, i.result]),
    [
      ['seeding', 'planned'],
      ['cache-use', 'planned'],
      ['reservation', 'planned'],
      ['reservation', 'planned'],
      ['attempts', 'planned'],
      ['job', 'planned'],
    ],
  );
  assert.is((await reconcile()).exitCode, 0);
  assert.equal(await mine(), nothingLeft);
});

test.run();
