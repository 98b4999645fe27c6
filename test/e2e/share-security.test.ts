// The working directory shared into a guest whose root is the submitter's (here through a
// runtime environment's install script, which the guest runs as root after the shares are
// mounted): through the share, guest root must not create or chown files to any uid or gid but
// the submitter's, set setuid or setgid bits, make device nodes or FIFOs, follow links out of
// the shared tree, or read another user's files. Two users' jobs see only their own
// directories, and the epilogue leaves no daemon, socket or mount.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeRteTarball, testGuestCatalogue } from '../helpers/rte-packages.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, startJobStarter, teardownMom, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';

let alice: HostUser;
let bob: HostUser;
let server: ImageServer;
let mom: Mom;

// guest root's attacks on the first share, each logged as done or refused into /tmp/share-attacks (the job prints it)
const attempt = (label: string, command: string) => `if ${command} 2>/dev/null; then echo '${label}: done'; else echo '${label}: refused'; fi`;
const rootAttacks = [
  '. /mnt/context/vmbatch.env',
  'W=$(printf "%s\\n" "$VB_SHARES" | cut -f3 | head -n 1)',
  '{',
  attempt('root creates a file', 'touch "$W/by-root"'),
  attempt('root makes a directory', 'mkdir "$W/dir-by-root"'),
  attempt('root makes a FIFO', 'mkfifo "$W/fifo-by-root"'),
  attempt('root makes a device node', 'mknod "$W/null-by-root" c 1 3'),
  attempt('root chowns a file to root', 'chown 0:0 "$W/input.txt"'),
  attempt('root chowns a file to another user', 'chown 31339:31340 "$W/input.txt"'),
  attempt('root sets the setuid bit', 'chmod 4755 "$W/input.txt"'),
  attempt('root sets the setgid bit', 'chmod 2755 "$W/input.txt"'),
  attempt('root reads a file of another user through a hard link', 'cat "$W/bobs-secret-link"'),
  attempt('root reads a file of another user through a symlink', 'cat "$W/bobs-secret-symlink"'),
  attempt('root reads a file of the submitter', 'cat "$W/input.txt" >/dev/null'),
  attempt('root hard-links a file of the guest into the share', 'ln /etc/passwd "$W/passwd-link"'),
  'echo "above the share: $(ls -a "$W/.." | tr "\\n" " ")"',
  '} > /tmp/share-attacks 2>&1',
  'chmod 0644 /tmp/share-attacks',
].join('\n');

test.before(async () => {
  alice = await ensureHostUser('vbe2e', 31337, 31338);
  bob = await ensureHostUser('vbother', 31339, 31340);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-share-sec-'));
  await makeRteTarball(join(dir, 'shareroot.tar'), { install: rootAttacks, runtime: {} });
  server.route('/rtes/shareroot.tar', { kind: 'file', path: join(dir, 'shareroot.tar') });
  server.route('/catalogue.rdf', {
    kind: 'data',
    data: Buffer.from(
      testGuestCatalogue(
        '  <kb:MetaPackage rdf:about="#shareroot" kb:name="APPS/HOSTILE/SHAREROOT-1"><kb:instance rdf:resource="#shareroot-tar"/></kb:MetaPackage>\n' +
          '  <kb:TarPackage rdf:about="#shareroot-tar" kb:url="rtes/shareroot.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>\n',
      ),
    ),
  });
  mom = await setupMom({ config: { catalogue: { sources: [server.url('/catalogue.rdf')] } } });
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

// A fresh directory of the user's, the job's working directory.
function workdirOf(user: HostUser, name: string): string {
  const dir = join(user.home, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o755);
  return dir;
}

// virtiofsd processes serving this file's directories (other suites' jobs may run meanwhile).
async function shareDaemons(): Promise<string[]> {
  const ps = await execa('ps', ['-eo', 'uid=,args='], { reject: false });
  return ps.stdout.split('\n').filter((l) => l.includes('virtiofsd') && /source=\/home\/(vbe2e|vbother)\/share-/.test(l));
}

test('guest root, through the share, acts only as the submitter could: every other owner, setuid/setgid bits, devices and FIFOs refused, no way out of the tree', async () => {
  const workdir = workdirOf(alice, 'share-sec');
  writeFileSync(join(workdir, 'input.txt'), 'input data\n', { mode: 0o644 });
  chownSync(join(workdir, 'input.txt'), alice.uid, alice.gid);
  const bobPrivate = workdirOf(bob, 'share-sec-private');
  chmodSync(bobPrivate, 0o700);
  writeFileSync(join(bobPrivate, 'secret'), 'bob only\n', { mode: 0o600 });
  chownSync(join(bobPrivate, 'secret'), bob.uid, bob.gid);
  // links made on the node by root (fs.protected_hardlinks keeps alice from making the hard one)
  linkSync(join(bobPrivate, 'secret'), join(workdir, 'bobs-secret-link'));
  symlinkSync(join(bobPrivate, 'secret'), join(workdir, 'bobs-secret-symlink'));

  const job: JobSpec = { jobId: '7900.vm', user: alice, workdir, resources: 'other=vbrte=APPS/HOSTILE/SHAREROOT-1' };
  const script = writeJobScript(
    mom,
    job,
    [
      '#!/bin/sh',
      'cat /tmp/share-attacks',
      'echo "pwd=$(pwd) home=$HOME"',
      'cat input.txt',
      'echo result > result.txt && chmod 0640 result.txt',
      'mkfifo user-fifo && echo "user FIFO: done"',
      'mkdir sub && touch sub/deep',
      'chmod 4755 result.txt 2>/dev/null && echo "user setuid: done" || echo "user setuid: refused"',
      'exit 7',
      '',
    ].join('\n'),
  );
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const run = await runJobStarter(mom, job, script);
  assert.is((await runEpilogue(mom, job, script, 7)).exitCode, 0);
  assert.is(run.exitCode, 7, run.stderr);
  assert.is(
    run.stdout,
    [
      'root creates a file: refused',
      'root makes a directory: refused',
      'root makes a FIFO: refused',
      'root makes a device node: refused',
      'root chowns a file to root: refused',
      'root chowns a file to another user: refused',
      'root sets the setuid bit: refused',
      'root sets the setgid bit: refused',
      'root reads a file of another user through a hard link: refused',
      'root reads a file of another user through a symlink: refused',
      'root reads a file of the submitter: done',
      'root hard-links a file of the guest into the share: refused',
      // `..` of the mount point is the guest's own directory: only the guest's files are there
      'above the share: . .. .ssh share-sec ',
      `pwd=${workdir} home=${alice.home}`,
      'input data',
      'user FIFO: done',
      'user setuid: refused',
    ].join('\n'),
  );

  // on the node: only the submitter's files, with the modes the job chose, nothing setuid
  assert.equal(readdirSync(workdir).sort(), ['bobs-secret-link', 'bobs-secret-symlink', 'input.txt', 'result.txt', 'sub', 'user-fifo']);
  const owned = (name: string) => {
    const s = lstatSync(join(workdir, name));
    return [s.uid, s.gid, (s.mode & 0o7777).toString(8)];
  };
  assert.equal(owned('result.txt'), [alice.uid, alice.gid, '640']);
  assert.equal(owned('input.txt'), [alice.uid, alice.gid, '644']);
  assert.equal(owned('sub/deep').slice(0, 2), [alice.uid, alice.gid]);
  assert.ok(lstatSync(join(workdir, 'user-fifo')).isFIFO());
  assert.equal(owned('user-fifo').slice(0, 2), [alice.uid, alice.gid]);
  assert.equal(statSync(join(bobPrivate, 'secret')).uid, bob.uid);
  // nothing of the job is left: no domain, job directory, daemon or socket
  const left = await leftovers(mom);
  assert.equal({ ...left, domains: left.domains.filter((d) => d.startsWith('vmbatch-79')) }, { domains: [], jobs: [], ports: [], attempts: [] });
  assert.equal(await shareDaemons(), []);
});

test("two users' jobs at once: each guest sees its own working directory only, and another local user cannot reach a job's share socket", async () => {
  const aliceDir = workdirOf(alice, 'share-two');
  const bobDir = workdirOf(bob, 'share-two');
  writeFileSync(join(aliceDir, 'mine.txt'), 'alice\n');
  writeFileSync(join(bobDir, 'mine.txt'), 'bob\n');
  const jobs: [JobSpec, string][] = [
    [{ jobId: '7901.vm', user: alice, workdir: aliceDir }, bobDir],
    [{ jobId: '7902.vm', user: bob, workdir: bobDir }, aliceDir],
  ];
  const scripts = jobs.map(([job, other]) => writeJobScript(mom, job, `#!/bin/sh\nls\ncat mine.txt\nls ${other} 2>&1 | sed 's/^ls: //'\n`));
  const pros = await Promise.all(jobs.map(([job], i) => runPrologue(mom, job, scripts[i]!)));
  for (const p of pros) assert.is(p.exitCode, 0, p.stderr);
  try {
    // alice's share socket: bob, a local user, may not connect; the job's qemu has it open already
    const socket = join(mom.stateDir, 'jobs', '7901.vm', 'share-0.sock');
    assert.ok(existsSync(socket));
    const tried = await execa(
      'node',
      ['-e', `require('net').connect(${JSON.stringify(socket)}).on('error', (e) => { console.log(e.code); process.exit(0) }).on('connect', () => { console.log('connected'); process.exit(0) })`],
      { uid: bob.uid, gid: bob.gid, reject: false },
    );
    assert.is(tried.stdout, 'EACCES');
    const runs = await Promise.all(jobs.map(([job], i) => startJobStarter(mom, job, scripts[i]!).ended));
    assert.is(runs[0]!.stdout, `mine.txt\nalice\n${bobDir}: No such file or directory`);
    assert.is(runs[1]!.stdout, `mine.txt\nbob\n${aliceDir}: No such file or directory`);
  } finally {
    for (const [i, [job]] of jobs.entries()) assert.is((await runEpilogue(mom, job, scripts[i]!, 0)).exitCode, 0);
  }
  assert.equal(await shareDaemons(), []);
});

test.run();
