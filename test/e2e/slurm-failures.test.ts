// What goes wrong under a real Slurm, and who pays: a submitter's mistake is refused at submit
// time or fails only that job (reason in its output, the node stays idle); a guest that never
// gets ready is requeued, boundedly; only a fault of the node drains it; other users cannot
// reach a job's guest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { domainsDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import { waitForFs } from '../helpers/wait-for-fs.js';
import { asUser, setupSlurmNode, slurmLeftovers, slurmNode, submit, teardownSlurmNode, waitForJob, waitForJobEnd, waitForNodeState, writeNodeConfig, type SlurmNode } from '../slurm/cluster.js';

const shipped = readFileSync(`${domainsDir}/testguest.xml`, 'utf8');
// the guest has no driver for a SATA CD-ROM: it never finds its context and never reports ready
const silent = shipped.replace("<target dev='hdc' bus='ide'/>", "<target dev='sda' bus='sata'/>").replace("timeout='120'", "timeout='8'");

let node: SlurmNode;
let user: HostUser;
let other: HostUser;

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  other = await ensureHostUser('vbother', 31339, 31340);
  node = setupSlurmNode({ domains: { silent }, config: { maxAttempts: 2 } });
});
test.after(() => teardownSlurmNode(node));

const nothingLeft = async () => assert.equal(await slurmLeftovers(node), { domains: [], jobs: [], locks: [], attempts: [] });

test('a malformed --vm-* option is refused by sbatch itself with its exact text: nothing queued, the node idle', async () => {
  const dir = freshWorkdir(user, 'slurm-refused-');
  const run = await asUser(user, ['sbatch', '--vm-domain=a/b', '--wrap', 'true'], { cwd: dir });
  assert.is.not(run.exitCode, 0);
  assert.is(
    run.stderr,
    "sbatch: error: vmbatch: --vm-domain=a/b: must be a template name of letters, digits, '.', '_' or '-'; ask the site which templates it offers, e.g. --vm-domain=debian12\n" +
      'sbatch: error: Invalid --vm-domain argument: a/b',
  );
  const hash = await asUser(user, ['sbatch', '--vm-image-hash=sha256:abc', '--wrap', 'true'], { cwd: dir });
  assert.match(hash.stderr, "sbatch: error: vmbatch: --vm-image-hash=sha256:abc: after 'sha256:' must come the 64 hexadecimal digits of the digest");
  const root = await asUser(user, ['sbatch', '--vm-root=sure', '--wrap', 'true'], { cwd: dir });
  assert.match(root.stderr, 'sbatch: error: vmbatch: --vm-root=sure: must be yes (you may use sudo in your guest) or no; write --vm-root=yes\n');
  const changesHash = await asUser(user, ['sbatch', '--vm-changes-hash=sha256', '--wrap', 'true'], { cwd: dir });
  assert.match(
    changesHash.stderr,
    "sbatch: error: vmbatch: --vm-changes-hash=sha256: must be ALGO:HEX, ALGO one of md5, sha1, sha256, sha512 and HEX the image's digest, e.g. --vm-changes-hash=sha256:",
  );
  const layer = await asUser(user, ['sbatch', '--vm-changes=../x', '--wrap', 'true'], { cwd: dir });
  assert.match(layer.stderr, "sbatch: error: vmbatch: --vm-changes=../x: must be a name of 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  assert.is((await execa('squeue', ['-h', '-u', user.user])).stdout, '');
  await waitForNodeState(/^idle$/);
});

test('a request the node refuses (no such template) fails only that job, with the reason in its output; the node stays idle', async () => {
  const dir = freshWorkdir(user, 'slurm-nosuch-');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --vm-domain=nosuch --output=out.txt\necho ran on the node\n');
  const record = await waitForJobEnd(jobId);
  assert.is(record?.JobState, 'FAILED');
  assert.is(record?.ExitCode, '255:0');
  assert.is(
    readFileSync(join(dir, 'out.txt'), 'utf8'),
    `vmbatch: DOMAIN_NOT_FOUND: no domain template 'nosuch' in ${node.domainsDir} (available: silent, testguest)\n` +
      '  hint: request one of the available templates (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME), or ask the site admin to add it\n' +
      `vmbatch: job ${jobId} does not run: it ends at once with exit status 255.\n`,
  );
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test('a guest that never becomes ready is requeued, and fails for good after maxAttempts', async () => {
  const dir = freshWorkdir(user, 'slurm-silent-');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --vm-domain=silent --output=out-%j.txt --open-mode=append\necho never\n');
  // the first attempt fails; the job's task asks Slurm to requeue it, which holds it back ~2 min
  await waitForJob(jobId, 'requeued', (r) => Number(r?.Restarts) >= 1 && r?.JobState === 'PENDING');
  // the first start's epilog is done before the job may start again at once (else slurmd skips
  // the next prolog: see the next test)
  await waitForFs(node.root, () => readFileSync(node.logFile, 'utf8').includes(`hook=slurm-epilog msg="done" job=${jobId} `), 60_000);
  await execa('scontrol', ['update', `jobid=${jobId}`, 'starttime=now']);
  // Slurm may start the job again at once, before the epilog, without a prolog: that start is
  // requeued again and is no attempt (previous test); the bound counts the prolog's attempts
  const record = await waitForJobEnd(jobId, 400_000);
  assert.is(record?.JobState, 'FAILED');
  assert.is(record?.ExitCode, '255:0');
  assert.ok(Number(record?.Restarts) >= 1, record?.Restarts);
  const out = readFileSync(join(dir, `out-${jobId}.txt`), 'utf8');
  assert.match(out, new RegExp(`^vmbatch: GUEST_NOT_READY: guest vmbatch-${jobId} did not report ready within 8 s; last console lines:\\n`));
  assert.match(out, `\nvmbatch: job ${jobId} is requeued (attempt 1 of 2).\n`);
  assert.match(out, `\nvmbatch: RETRIES_EXHAUSTED: `);
  assert.match(out, new RegExp(`\\nvmbatch: job ${jobId} does not run: it ends at once with exit status 255\\.\\n$`));
  assert.not.match(out, 'never');
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test('a start no prolog prepared (slurmd skips it for a job requeued and started again before its epilog ended) asks to be requeued, boundedly', async () => {
  const task = (restarts: string) =>
    execa('/usr/local/libexec/vmbatch/slurm-task', [], {
      uid: user.uid,
      gid: user.gid,
      cwd: '/tmp',
      env: { SLURM_JOB_ID: '899999', SLURM_RESTART_COUNT: restarts, VMBATCH_TASK_STEP: '4294967291', VMBATCH_TASK_ARGV0: '/var/spool/slurmd/job899999/slurm_script', PATH: '/usr/bin:/bin' },
      extendEnv: false,
      reject: false,
    });
  const unprepared = (restarts: number) =>
    `vmbatch: SLURM_START_UNPREPARED: job 899999 has no guest on this node: Slurm started it again (restart ${restarts}) and slurmd ran no vmbatch prolog for this start\n` +
    '  hint: slurmd skips the prolog when a requeued job starts again before the epilog of its previous start has ended; vmbatch asks Slurm to requeue the job. If every job says this, plugstack.conf does not name vmbatch.so (docs/slurm.md)\n';
  const first = await task('1');
  assert.is(first.exitCode, 255);
  // the job id is unknown to Slurm here, so the requeue itself is refused, with its reason
  assert.match(first.stderr, `${unprepared(1)}vmbatch: job 899999 is requeued.\nvmbatch: SLURM_REQUEUE_REFUSED: job 899999 could not be requeued: scontrol requeue 899999 failed (exit 1): `);
  // no guest was tried, so it is no attempt; Slurm's restart count bounds these at 2 x maxAttempts
  const last = await task('4');
  assert.is(last.exitCode, 255);
  assert.is(last.stderr, `${unprepared(4)}vmbatch: job 899999 does not run: it ends at once with exit status 255.`);
});

test("another user can neither run a task in a job's guest nor open its session socket", async () => {
  const dir = freshWorkdir(user, 'slurm-hostile-');
  const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --output=out.txt\necho up > started\nwhile [ ! -e release ]; do sleep 0.2; done\n');
  await waitForFs(dir, () => existsSync(join(dir, 'started')), 120_000);
  const task = await asUser(other, ['/usr/local/libexec/vmbatch/slurm-task', 'id'], { cwd: '/tmp' });
  // the task's environment is the caller's to forge: ownership is checked against the job's state
  const forged = await execa('/usr/local/libexec/vmbatch/slurm-task', ['id'], {
    uid: other.uid,
    gid: other.gid,
    cwd: '/tmp',
    env: { SLURM_JOB_ID: jobId, VMBATCH_TASK_STEP: '0', VMBATCH_TASK_ARGV0: 'id', PATH: '/usr/bin:/bin' },
    extendEnv: false,
    reject: false,
  });
  assert.is(task.exitCode, 255);
  assert.match(task.stderr, /^vmbatch: SLURM_ENVIRONMENT_INVALID: /);
  assert.is(forged.exitCode, 255);
  assert.is(forged.stderr.split('\n')[0], `vmbatch: JOB_NOT_OWNED: job ${jobId} belongs to vbe2e, not to uid 31339: only its submitter reaches its guest`);
  const socket = join(node.stateDir, 'jobs', jobId, 'session-mux.sock');
  const open = await execa(
    process.execPath,
    ['-e', `require('net').connect(${JSON.stringify(socket)}).on('error', (e) => { console.log(e.code); process.exit(0) }).on('connect', () => { console.log('connected'); process.exit(0) })`],
    { uid: other.uid, gid: other.gid, reject: false },
  );
  assert.is(open.stdout, 'EACCES');
  await execa('touch', [join(dir, 'release')]);
  assert.is((await waitForJobEnd(jobId))?.ExitCode, '0:0');
  await nothingLeft();
});

test('only a fault of the node drains it: a broken vmbatch config', async () => {
  const dir = freshWorkdir(user, 'slurm-nodefault-');
  writeNodeConfig(node, { maxAttempts: 'many' });
  try {
    const jobId = await submit(user, dir, '#!/bin/sh\n#SBATCH --output=out.txt\necho ran\n');
    await waitForJob(jobId, 'held after the failed prolog', (r) => r?.JobState === 'PENDING' && /held/i.test(r.Reason ?? ''));
    assert.match(await waitForNodeState(/^drain/), /^drain/);
    assert.not.ok(existsSync(join(dir, 'out.txt')));
    await execa('scancel', [jobId]);
  } finally {
    writeNodeConfig(node, { maxAttempts: 2 });
    await execa('scontrol', ['update', `nodename=${slurmNode}`, 'state=resume']);
  }
  await waitForNodeState(/^idle$/);
  await nothingLeft();
});

test.run();
