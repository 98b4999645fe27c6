// The job's SSH connection is a per-job unix socket (a virtio-serial port of the guest), not a
// TCP port on the host's loopback: a hostile local user can neither reach the guest nor take
// the job's connection first, nor starve jobs by binding ports.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { repoRoot } from '../helpers/paths.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';

let mom: Mom;
let user: HostUser;
let other: HostUser;

// What the node holds of this file's jobs (7101-7103): other suites may boot guests meanwhile.
async function left() {
  const l = await leftovers(mom);
  return { ...l, domains: l.domains.filter((d) => /^vmbatch-710\d\.vm$/.test(d)) };
}

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  other = await ensureHostUser('vbother', 31339, 31340);
  mom = await setupMom();
});
test.after(() => teardownMom(mom));

// Runs node as a host user with a script; resolves with its stdout once it printed a line.
function asUser(who: HostUser, script: string): ResultPromise {
  return execa(process.execPath, ['--input-type=module', '-e', script], { uid: who.uid, gid: who.gid, cwd: '/', reject: false });
}

// The inodes of the TCP sockets (IPv4 and IPv6, any state) of the host.
function tcpInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inode !== '0') inodes.add(inode);
    }
  }
  return inodes;
}

// The socket inodes a process holds open.
function socketInodes(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? [];
    } catch {
      return [];
    }
  });
}

test("the job runs over its own unix socket: the submitter's only, no TCP port on the host, squatted ports change nothing, nothing left", async () => {
  // a hostile user binds the whole range the SSH forwards used to come from, before the job starts
  const squatter = execa(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { createServer } from 'node:net'; let n = 0; for (let p = 42000; p <= 42999; p++) createServer().listen(p, '127.0.0.1', () => { if (++n === 1000) console.log('bound'); }).on('error', () => { if (++n === 1000) console.log('bound'); }); setInterval(() => {}, 1000);",
    ],
    { uid: other.uid, gid: other.gid, cwd: '/', reject: false, buffer: false },
  );
  await new Promise<void>((resolve, reject) => {
    squatter.stdout.on('data', (d: Buffer) => d.toString().includes('bound') && resolve());
    squatter.once('exit', () => reject(new Error('the squatter exited')));
  });
  const job = { jobId: '7101.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho "$(id -un) $(id -u) $PBS_JOBID"\n');
  try {
    const pro = await runPrologue(mom, job, script);
    assert.is(pro.exitCode, 0, pro.stderr);
    const jobDir = join(mom.stateDir, 'jobs', job.jobId);
    const socket = join(jobDir, 'ssh.sock');
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal([st.uid, st.gid, st.mode & 0o777], [user.uid, user.gid, 0o600], 'only the submitter (and root) may open the SSH channel');
    assert.is((JSON.parse(readFileSync(join(jobDir, 'state.json'), 'utf8')) as { sshSocket: string }).sshSocket, socket);
    assert.not.ok(existsSync(join(mom.stateDir, 'ports')), 'no port reservations any more');

    // another local user cannot connect to the job's guest
    const probe = await asUser(
      other,
      `import { connect } from 'node:net'; const s = connect(${JSON.stringify(socket)}); s.on('connect', () => { console.log('connected'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`,
    );
    assert.is(probe.stdout, 'EACCES');

    // the guest's qemu holds no TCP socket at all: nothing of the job is in the loopback TCP space
    const pid = Number(readFileSync(`/run/libvirt/qemu/vmbatch-${job.jobId}.pid`, 'utf8').trim());
    const held = socketInodes(pid);
    assert.ok(held.length > 0, 'qemu holds its sockets (monitor, chardevs)');
    const tcp = tcpInodes();
    assert.equal(
      held.filter((i) => tcp.has(i)),
      [],
      'qemu has no TCP socket',
    );

    // the submitter's job runs over the channel, twice (the guest serves one connection after another)
    for (const round of [1, 2]) {
      const run = await runJobStarter(mom, job, script);
      assert.is(run.exitCode, 0, `round ${round}: ${run.stderr}`);
      assert.is(run.stdout, 'vbe2e 31337 7101.vm', `round ${round}`);
    }
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
    assert.not.ok(existsSync(socket), 'the socket goes with the job directory');
    assert.equal(await left(), { domains: [], jobs: [], ports: [], attempts: [] });
  } finally {
    squatter.kill();
    await squatter.catch(() => undefined);
  }
});

test('remoteshell run by another user than the submitter cannot reach the guest', async () => {
  const job = { jobId: '7102.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\necho "ran as $(id -un)"\n');
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  try {
    // the other user runs the job starter for this job id (the key file is not theirs either:
    // read the socket alone to show that the channel itself refuses them)
    const socket = join(mom.stateDir, 'jobs', job.jobId, 'ssh.sock');
    const run = await runJobStarter(mom, { ...job, user: other }, script);
    assert.is(run.exitCode, 255);
    assert.is(run.stdout, '');
    assert.is(
      run.stderr,
      'vmbatch: JOB_NOT_OWNED: job 7102.vm belongs to vbe2e, not to uid 31339: only its submitter reaches its guest\n' +
        "  hint: remoteshell runs as the job's submitter (pbs_mom's $job_starter does so); the job's SSH socket and key are theirs alone",
    );
    const probe = await asUser(
      other,
      `import { connect } from 'node:net'; const s = connect(${JSON.stringify(socket)}); s.on('connect', () => { console.log('connected'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`,
    );
    assert.is(probe.stdout, 'EACCES');
    // the submitter still gets the guest: nothing the other user did held the channel
    const ok = await runJobStarter(mom, job, script);
    assert.is(ok.stdout, 'ran as vbe2e', ok.stderr);
  } finally {
    await runEpilogue(mom, job, script, 0);
  }
  assert.equal(await left(), { domains: [], jobs: [], ports: [], attempts: [] });
});

test('`vmbatch plan` shows the SSH channel socket, and the domain XML has the channel and no host port', async () => {
  const job = { jobId: '7103.vm', user };
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const run = await execa(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'plan', job.jobId, user.user, user.group, script], {
    env: { VMBATCH_CONFIG: mom.configFile },
    reject: false,
  });
  assert.is(run.exitCode, 0, run.stderr);
  const plan = JSON.parse(run.stdout) as { sshChannel: string; domainXml: string };
  assert.is(plan.sshChannel, join(mom.stateDir, 'jobs', '7103.vm', 'ssh.sock'));
  assert.not.ok('sshForward' in plan);
  assert.match(plan.domainXml, `<channel type="unix">\n      <source mode="bind" path="${plan.sshChannel}"/>\n      <target type="virtio" name="org.vmbatch.ssh"/>\n    </channel>`);
  assert.not.match(plan.domainXml, /hostfwd|<interface/);
  assert.equal(await left(), { domains: [], jobs: [], ports: [], attempts: [] });
});

test.run();
