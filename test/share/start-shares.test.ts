// The share's daemon on the node, without a guest: it must run as the submitter in a user
// namespace of their uid and gid alone, with every capability that could reach another user's
// files void, setuid/setgid bits refused, and a socket only the job's qemu may open. A stand-in
// daemon (a shell script in virtiofsd's place) tries each attack from inside that sandbox.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startShares } from '../../src/share/start-shares.js';
import { stopShareDaemons } from '../../src/share/share-daemon.js';
import { processStartTicks } from '../../src/state/boot-id.js';
import type { SharedDirectory } from '../../src/share/plan-shares.js';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { expectVmbatchError } from '../helpers/expect-error.js';
import { waitForFs } from '../helpers/wait-for-fs.js';

let alice: HostUser;
let bob: HostUser;
let jobDir: string;
const qemuUid = 1900000123;

test.before(async () => {
  alice = await ensureHostUser('vbe2e', 31337, 31338);
  bob = await ensureHostUser('vbother', 31339, 31340);
});
test.before.each(() => {
  jobDir = mkdtempSync(join(tmpdir(), 'vmbatch-share-job-'));
  chmodSync(jobDir, 0o755);
});
test.after.each(async () => {
  await stopShareDaemons(jobDir);
  rmSync(jobDir, { recursive: true, force: true });
});

const submitter = () => ({ user: alice.user, uid: alice.uid, gid: alice.gid, group: alice.group, home: alice.home, shell: '/bin/sh' });
const share = (path: string, mode: 'rw' | 'ro' = 'rw'): SharedDirectory => ({
  what: 'workdir',
  path,
  mode,
  tag: 'vbshare0',
  socket: join(jobDir, 'share-0.sock'),
  pidFile: join(jobDir, 'share-0.pid'),
  logFile: join(jobDir, 'share-0.log'),
});
const userDir = (owner: HostUser, name: string, mode = 0o755) => {
  const dir = join(owner.home, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode });
  chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, mode);
  return dir;
};
const start = (shares: SharedDirectory[], virtiofsd = '/usr/lib/qemu/virtiofsd') => startShares(shares, { submitter: submitter(), qemuUid, virtiofsd, deadline: Date.now() + 30_000 });
const pidOf = () => Number(readFileSync(join(jobDir, 'share-0.pid'), 'utf8').split(' ')[0]);
const status = (pid: number, field: string) => readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:[ \\t]*(.*)$`, 'm'))?.[1];

test('virtiofsd runs as the submitter, in a user namespace that maps their uid and gid alone, behind a socket only qemu may open', async () => {
  const dir = userDir(alice, 'share-daemon');
  await start([share(dir)]);
  const pid = pidOf();
  assert.is(status(pid, 'Uid'), '31337\t31337\t31337\t31337');
  assert.is(status(pid, 'Gid'), '31338\t31338\t31338\t31338');
  assert.is(status(pid, 'Groups'), '');
  assert.is(status(pid, 'NoNewPrivs'), '1');
  assert.is(status(pid, 'Seccomp'), '2');
  assert.is(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), '31337 31337 1');
  assert.is(readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/).join(' '), '31338 31338 1');
  assert.is(readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim(), 'deny');
  const socket = lstatSync(join(jobDir, 'share-0.sock'));
  assert.ok(socket.isSocket());
  assert.equal([socket.uid, socket.mode & 0o777], [qemuUid, 0o600]);
  await waitForFs(jobDir, () => readFileSync(join(jobDir, 'share-0.log'), 'utf8').includes('Waiting for vhost-user socket connection'));

  assert.is(await stopShareDaemons(jobDir), 1);
  assert.is(processStartTicks(pid), undefined);
  assert.equal(readdirSync(jobDir).sort(), ['share-0.log']);
  // idempotent: nothing left to stop
  assert.is(await stopShareDaemons(jobDir), 0);
});

test("inside the daemon's sandbox, root's powers reach only the submitter's own files: no other owner, no setuid or setgid bit, no device", async () => {
  const dir = userDir(alice, 'share-attacks');
  const ro = userDir(alice, 'share-attacks-ro');
  const secretDir = userDir(bob, 'private', 0o700);
  writeFileSync(join(secretDir, 'secret'), 'bob only\n', { mode: 0o600 });
  chownSync(join(secretDir, 'secret'), bob.uid, bob.gid);
  // a stand-in for virtiofsd, started the same way (it gets virtiofsd's arguments:
  // the last is source=DIR): every attack on its directory logged as done or refused
  const fake = join(jobDir, 'attacker.sh');
  const attempt = (label: string, command: string) => `if ${command} 2>/dev/null; then echo "${label}: done"; else echo "${label}: refused"; fi`;
  writeFileSync(
    fake,
    [
      '#!/bin/sh',
      'for arg; do dir=$arg; done',
      'cd "${dir#source=}" || exit 1',
      attempt('create as the submitter', 'touch made'),
      attempt('chmod 0755', 'chmod 0755 made'),
      attempt('chmod u+s', 'chmod 4755 made'),
      attempt('chmod g+s', 'chmod 2755 made'),
      attempt('chown to root', 'chown 0:0 made'),
      attempt('chown to another user', `chown ${bob.uid}:${bob.gid} made`),
      attempt('chown to the submitter', `chown ${alice.uid}:${alice.gid} made`),
      attempt('device node', 'mknod null c 1 3'),
      attempt('fifo', 'mkfifo fifo'),
      attempt("read another user's file", `cat ${secretDir}/secret`),
      attempt("list another user's private directory", `ls ${secretDir}`),
      'echo finished',
    ].join('\n') + '\n',
    { mode: 0o755 },
  );
  const attack = async (target: SharedDirectory) => {
    await start([target], fake);
    await waitForFs(jobDir, () => existsSync(target.logFile) && readFileSync(target.logFile, 'utf8').includes('finished'));
    return readFileSync(target.logFile, 'utf8');
  };
  const outcome = (done: string[]) =>
    [
      'create as the submitter',
      'chmod 0755',
      'chmod u+s',
      'chmod g+s',
      'chown to root',
      'chown to another user',
      'chown to the submitter',
      'device node',
      'fifo',
      "read another user's file",
      "list another user's private directory",
    ]
      .map((label) => `${label}: ${done.includes(label) ? 'done' : 'refused'}`)
      .join('\n') + '\nfinished\n';
  assert.is(await attack(share(dir)), outcome(['create as the submitter', 'chmod 0755', 'chown to the submitter', 'fifo']));
  // read-only: nothing at all may change
  assert.is(await attack({ ...share(ro, 'ro'), socket: join(jobDir, 'share-1.sock'), pidFile: join(jobDir, 'share-1.pid'), logFile: join(jobDir, 'share-1.log') }), outcome([]));
  assert.equal(readdirSync(ro), []);
  const made = statSync(join(dir, 'made'));
  assert.equal([made.uid, made.gid, made.mode & 0o7777], [alice.uid, alice.gid, 0o755]);
  const fifo = lstatSync(join(dir, 'fifo'));
  assert.equal([fifo.isFIFO(), fifo.uid, fifo.gid], [true, alice.uid, alice.gid]);
  assert.not.ok(existsSync(join(dir, 'null')));
});

test("a directory the submitter cannot enter is refused with the submitter's own view; a missing virtiofsd is the node's fault", async () => {
  const bobs = userDir(bob, 'closed', 0o700);
  const error = await expectVmbatchError(() => start([share(bobs)]), 'SHARE_UNAVAILABLE');
  assert.is(error.message, `the directory ${bobs} cannot be shared with the guest as vbe2e: permission denied: the user cannot enter it`);
  const gone = await expectVmbatchError(() => start([share('/home/vbe2e/no-such-dir')]), 'SHARE_UNAVAILABLE');
  assert.is(gone.message, 'the directory /home/vbe2e/no-such-dir cannot be shared with the guest as vbe2e: it is not a directory the user can see');
  const missing = await expectVmbatchError(() => start([share(userDir(alice, 'share-nodaemon'))], '/usr/lib/qemu/no-virtiofsd'), 'SHARE_DAEMON_FAILED');
  assert.is(
    missing.message,
    `the file server for the shared directory /home/vbe2e/share-nodaemon did not start: /usr/lib/qemu/no-virtiofsd does not exist (Debian: apt install qemu-system-common; or set shares.virtiofsd)`,
  );
  assert.equal(
    readdirSync(jobDir).filter((n) => n.endsWith('.pid')),
    [],
  );
});

test.run();
