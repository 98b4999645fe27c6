// The staged working directory end to end through the Torque harness and the real test guest:
// remoteshell copies the submit directory into the guest before the job and back after it, as
// the submitter, over the job's SSH session. The job's exit status stays its own whatever the
// copies do. A hostile guest root (here a runtime environment's control/install, which the guest
// runs as root) gives the user a shell that answers the copy back with a crafted, endless
// archive: nothing lands outside the directory, nothing comes back setuid.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeTar } from '../helpers/make-tar.js';
import { domainsDir } from '../helpers/paths.js';
import { makeRteTarball, testGuestCatalogue } from '../helpers/rte-packages.js';
import {
  interactiveScriptPath,
  leftovers,
  runEpilogue,
  runInteractiveJobStarter,
  runJobStarter,
  runPrologue,
  setupMom,
  teardownMom,
  writeJobScript,
  type HookRun,
  type JobSpec,
  type Mom,
} from '../torque/pbs-mom.js';

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let scratch: string;

const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
const workdirShare = "<vbshare source='workdir' mode='rw'/>";
// guests that cannot mount shares: the template stages the working directory, read-write or read-only
const domains = {
  stagerw: shipped.replace(workdirShare, "<vbshare source='workdir' mode='rw' method='stage'/>"),
  stagero: shipped.replace(workdirShare, "<vbshare source='workdir' mode='ro' method='stage'/>"),
};
const hostileRte = 'APPS/HOSTILE/STAGETAR-1';

test.before(async () => {
  assert.ok(shipped.includes(workdirShare), 'the shipped template shares the working directory');
  user = await ensureHostUser('vbe2e', 31337, 31338);
  scratch = mkdtempSync(join(tmpdir(), 'vmbatch-staging-'));
  server = await startImageServer();
  // the guest's root gives the user a login shell of its own, which answers the copy back with the
  // crafted stream (busybox's sh runs its tar applet itself: replacing /bin/tar changes nothing)
  const evilShell = '#!/bin/sh\ncase "$2" in\n  *"tar -c -f - ."*) cat /etc/vmbatch-evil.tar; exec cat /dev/zero ;;\nesac\nexec /bin/sh "$@"\n';
  const install = [
    'base64 -d evil.b64 > /etc/vmbatch-evil.tar',
    'chmod 0644 /etc/vmbatch-evil.tar',
    `printf '%s' '${evilShell}' > /bin/vbevilsh`,
    'chmod 0755 /bin/vbevilsh',
    'echo /bin/vbevilsh >> /etc/shells',
    `sed -i '/^${user.user}:/s#:[^:]*$#:/bin/vbevilsh#' /etc/passwd`,
  ].join('\n');
  await makeRteTarball(join(scratch, 'stagetar.tar'), { install, runtime: {}, data: { 'evil.b64': (await hostileStream()).toString('base64') } });
  server.route('/rtes/stagetar.tar', { kind: 'file', path: join(scratch, 'stagetar.tar') });
  const pkg = `  <kb:MetaPackage rdf:about="#stagetar" kb:name="${hostileRte}"><kb:instance rdf:resource="#stagetar-tar"/></kb:MetaPackage>\n  <kb:TarPackage rdf:about="#stagetar-tar" kb:url="rtes/stagetar.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>\n`;
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(testGuestCatalogue(pkg)) });
  mom = await setupMom({ domains, config: { catalogue: { sources: [server.url('/catalogue.rdf')] }, shares: { stageOutMaxMiB: 2 } } });
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
  for (const dir of submitDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * What the hostile guest's tar sends: '..' and absolute names, links to /etc, to the user's
 * ~/.bashrc and to the home with files written through them, hard links out, setuid and setgid
 * files, a FIFO and a device, then a member that claims 1 TiB, followed by endless zeros.
 */
async function hostileStream(): Promise<Buffer> {
  const file = join(scratch, 'members.tar');
  await makeTar(file, [
    { name: '../escape', content: 'x' },
    { name: '/abs', content: 'x' },
    { name: 'etc', symlink: '/etc' },
    { name: 'etc/vmbatch-staged-evil', content: 'x' },
    { name: 'rc', symlink: `${user.home}/.bashrc` },
    { name: 'rc', content: 'echo owned\n' },
    { name: 'home', symlink: user.home },
    { name: 'home/.bashrc', content: 'echo owned\n' },
    { name: 'hard', hardlink: `${user.home}/.bashrc` },
    { name: 'suid', content: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'sgid', content: '#!/bin/sh\n', mode: 0o2755 },
    { name: 'fifo', fifo: true },
    { name: 'null', chardev: true },
  ]);
  const tar = readFileSync(file);
  // the members without the end-of-archive blocks: up to the last block that is not all zeros
  let end = tar.length;
  while (end > 0 && tar.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  const huge = await execa('python3', ['-c', "import sys, tarfile\ni = tarfile.TarInfo('huge'); i.size = 1 << 40\nsys.stdout.buffer.write(i.tobuf(tarfile.GNU_FORMAT))"], { encoding: 'buffer' });
  return Buffer.concat([tar.subarray(0, end), huge.stdout]);
}

// A fresh submit directory below the user's home, theirs, holding an input file.
const submitDirs: string[] = [];
function submitDir(jobId: string): string {
  const dir = join(user.home, `stage-${jobId}`);
  submitDirs.push(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o755 });
  writeFileSync(join(dir, 'input.txt'), `input of ${jobId}\n`, { mode: 0o644 });
  chownSync(dir, user.uid, user.gid);
  chownSync(join(dir, 'input.txt'), user.uid, user.gid);
  return dir;
}

// Runs one job through prologue, $job_starter and epilogue (no body: qsub -I, whose `run` types into its shell).
async function runJob(job: JobSpec, body: string | undefined, run: (script: string) => Promise<HookRun> = (script) => runJobStarter(mom, job, script)): Promise<HookRun> {
  const script = body === undefined ? interactiveScriptPath(mom, job) : writeJobScript(mom, job, body);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  try {
    return await run(script);
  } finally {
    assert.is((await runEpilogue(mom, job, script, 0)).exitCode, 0);
  }
}

const jobScript = `#!/bin/sh
echo "pwd=$(pwd)"
cat input.txt
mkdir results && echo part > results/part.txt
echo result > result.txt && chmod 0640 result.txt
exit 3
`;

// The job read its input in its directory, and its results are back, the user's, with the mode the job chose.
function assertStagedBack(dir: string, jobId: string, run: HookRun): void {
  assert.is(run.stdout, `pwd=${dir}\ninput of ${jobId}`);
  assert.is(run.stderr, '');
  assert.is(run.exitCode, 3);
  const result = lstatSync(join(dir, 'result.txt'));
  assert.equal([result.uid, result.gid, result.mode & 0o7777], [user.uid, user.gid, 0o640]);
  assert.is(readFileSync(join(dir, 'result.txt'), 'utf8'), 'result\n');
  assert.is(readFileSync(join(dir, 'results', 'part.txt'), 'utf8'), 'part\n');
  assert.equal(lstatSync(join(dir, 'results')).uid, user.uid);
  assert.equal(readdirSync(dir).sort(), ['input.txt', 'result.txt', 'results']);
}

test('vbstage=yes with the shipped template: the job runs in its submit directory with its files, its results come back, its status is kept', async () => {
  const dir = submitDir('8000');
  const run = await runJob({ jobId: '8000.vm', user, workdir: dir, resources: 'other=vbstage=yes' }, jobScript);
  assertStagedBack(dir, '8000', run);
});

test("a template that stages (<vbshare method='stage'>, a guest without virtiofs) works the same", async () => {
  const dir = submitDir('8001');
  const run = await runJob({ jobId: '8001.vm', user, workdir: dir, resources: 'other=vbdomain=stagerw' }, jobScript);
  assertStagedBack(dir, '8001', run);
});

test("mode='ro': the files are copied in, nothing comes back", async () => {
  const dir = submitDir('8002');
  const run = await runJob({ jobId: '8002.vm', user, workdir: dir, resources: 'other=vbdomain=stagero' }, jobScript);
  assert.is(run.stdout, `pwd=${dir}\ninput of 8002`);
  assert.is(run.stderr, '');
  assert.is(run.exitCode, 3);
  assert.equal(readdirSync(dir), ['input.txt']);
});

test('a copy back that fails (the job made its directory unreadable) is one line on stderr; the status is kept', async () => {
  const dir = submitDir('8003');
  const run = await runJob({ jobId: '8003.vm', user, workdir: dir, resources: 'other=vbstage=yes' }, '#!/bin/sh\necho out > result.txt\nchmod 000 .\nexit 4\n');
  assert.is(run.exitCode, 4);
  assert.is(run.stdout, '');
  assert.is(
    run.stderr,
    `vmbatch: STAGE_FAILED: the working directory ${dir} was not copied wholly back from the guest: the guest's tar exited with status 2: sh: cd: line 0: can't cd to ${dir}: Permission denied; what was copied back is kept`,
  );
  assert.equal(readdirSync(dir), ['input.txt']);
});

test('an interactive job (qsub -I) stages too: its shell starts in the directory with the files, what it writes comes back', async () => {
  const dir = submitDir('8004');
  const job = { jobId: '8004.vm', user, workdir: dir, resources: 'other=vbstage=yes' };
  const run = await runJob(job, undefined, () => runInteractiveJobStarter(mom, job, 'echo "in $(pwd): $(cat input.txt)"; echo typed > typed.txt; exit 7\n'));
  assert.match(run.stdout, `in ${dir}: input of 8004`);
  assert.is(run.exitCode, 7);
  assert.is(readFileSync(join(dir, 'typed.txt'), 'utf8'), 'typed\n');
});

test("a hostile guest root's tar sends a crafted, endless archive: nothing lands outside, nothing setuid, no FIFO or device, the job's status is kept", async () => {
  const dir = submitDir('8005');
  const bashrc = join(user.home, '.bashrc');
  const bashrcBefore = existsSync(bashrc) ? readFileSync(bashrc, 'utf8') : undefined;
  const homeBefore = readdirSync(user.home).sort();
  const run = await runJob({ jobId: '8005.vm', user, workdir: dir, resources: `other=vbrte=${hostileRte}:vbstage=yes` }, '#!/bin/sh\necho ran > result.txt\nexit 5\n');
  assert.is(run.exitCode, 5);
  assert.is(
    run.stderr,
    `vmbatch: STAGE_FAILED: the working directory ${dir} was not copied wholly back from the guest: the guest sent more than 2 MiB (the site's shares.stageOutMaxMiB); ` +
      "the node's tar exited with status 2: tar: ../escape: Member name contains '..' (and 7 more messages); not copied back: fifo (a FIFO); what was copied back is kept",
  );
  // nothing outside the directory: not beside it, not in /etc, not through the links into the home
  assert.equal(readdirSync(user.home).sort(), homeBefore);
  assert.not.ok(existsSync('/etc/vmbatch-staged-evil'));
  assert.is(existsSync(bashrc) ? readFileSync(bashrc, 'utf8') : undefined, bashrcBefore);
  // what came back is inside, the user's, and without setuid or setgid bits or special files
  const walk = (d: string): string[] => readdirSync(d).flatMap((e) => [join(d, e), ...(lstatSync(join(d, e)).isDirectory() ? walk(join(d, e)) : [])]);
  const back = walk(dir);
  for (const path of back) {
    const st = lstatSync(path);
    assert.is(st.uid, user.uid, path);
    assert.is(st.mode & 0o7000, 0, `${path} has no setuid, setgid or sticky bit`);
    assert.ok(st.isFile() || st.isDirectory() || st.isSymbolicLink(), `${path} is a file, a directory or a link`);
  }
  assert.ok(lstatSync(join(dir, 'huge')).size <= 2 * 1048576, 'the endless member is cut at the limit');
  assert.ok(back.includes(join(dir, 'abs')), 'an absolute name lands inside');
  assert.equal(
    readdirSync(dir).filter((e) => e.startsWith('.vmbatch-stage-')),
    [],
  );
  const left = await leftovers(mom);
  assert.equal({ ...left, domains: left.domains.filter((d) => /^vmbatch-80\d\d\.vm$/.test(d)) }, { domains: [], jobs: [], ports: [], attempts: [] });
});

test.run();
