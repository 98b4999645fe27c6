// Saved changes end to end through the Torque harness and qemu:///system: job 1 installs a
// program in its guest and saves the changes as the submitter's layer; job 2 boots with them,
// runs the program and saves a chain (old + new in one layer); job 3 without them does not have
// it. A layer made from another base, one with a backing file, one behind a link to a file the
// submitter cannot read and one larger than the site allows are refused with exact text; the
// layers are the submitter's files; `vmbatch changes` lists, shows and removes them; nothing is
// left on the node. Also: root in the guest for a job that saves changes (vbroot=yes), where the
// guest's root still can do nothing on the node the submitter cannot; a layer from an http URL
// with its hash; changes prepared in an interactive session (qsub -I); a ROOTSSH template.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { cliPath } from '../helpers/image-cache.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir, testGuestDir } from '../helpers/paths.js';
import { freshWorkdir } from '../helpers/share-jobs.js';
import {
  endFailedJob,
  interactiveScriptPath,
  leftovers,
  runEpilogue,
  runInteractiveJobStarter,
  runJobStarter,
  runPrologue,
  setupMom,
  teardownMom,
  updateMomConfig,
  writeJobScript,
  type JobSpec,
  type Mom,
} from '../torque/pbs-mom.js';

let user: HostUser;
let mom: Mom;
let changesDir: string;
let server: ImageServer;
const base = '/var/lib/vmbatch/guest/disk.qcow2';
const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
// the test guest prepared over root's SSH login instead of a CD-ROM
const rootSshTemplate = shipped.replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>').replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '');

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  mom = await setupMom({ domains: { rootssh: rootSshTemplate }, config: { rootSsh: { privateKeyFile: `${testGuestDir}/root_ssh_key`, hostKeysFile: `${testGuestDir}/guest_host_key.pub` } } });
  changesDir = join(user.home, '.vmbatch', 'changes');
  rmSync(join(user.home, '.vmbatch'), { recursive: true, force: true });
});
const submitDirs: string[] = [];
test.after(async () => {
  await server.close();
  teardownMom(mom);
  for (const dir of submitDirs) rmSync(dir, { recursive: true, force: true });
  rmSync(join(user.home, '.vmbatch'), { recursive: true, force: true });
});

// `vmbatch ...` as the submitter.
function asUser(args: string[]) {
  return execa(process.execPath, [cliPath, ...args], { env: { VMBATCH_CONFIG: mom.configFile, HOME: user.home }, uid: user.uid, gid: user.gid, reject: false });
}

// Runs a job through prologue, job starter and epilogue; returns what the job printed and what the epilogue said.
async function runJob(spec: JobSpec, body: string): Promise<{ stdout: string; epilogue: string }> {
  // a working directory of its own: the guest's $HOME/bin is then on its disk, not shared with the node
  const job = { ...spec, workdir: freshWorkdir(user, `changes-${spec.jobId}-`) };
  submitDirs.push(job.workdir);
  const script = writeJobScript(mom, job, body);
  const pro = await runPrologue(mom, job, script);
  assert.is(pro.exitCode, 0, pro.stderr);
  const run = await runJobStarter(mom, job, script);
  assert.is(run.exitCode, 0, run.stderr);
  const epi = await runEpilogue(mom, job, script, 0);
  assert.is(epi.exitCode, 0, epi.stderr);
  return { stdout: run.stdout, epilogue: epi.stderr };
}

const install = (tool: string) => `#!/bin/sh
mkdir -p "$HOME/bin"
printf '#!/bin/sh\\necho hello from ${tool}\\n' > "$HOME/bin/${tool}"
chmod +x "$HOME/bin/${tool}"
echo installed ${tool}
`;
const useTools = `#!/bin/sh
for t in tool1 tool2; do if [ -x "$HOME/bin/$t" ]; then "$HOME/bin/$t"; else echo "no $t"; fi; done
`;

test("job 1 installs a program and saves its changes: a compact layer and its record, the submitter's files", async () => {
  const job = { jobId: '8430.vm', user, resources: 'other=vbsavechanges=tools' };
  const { stdout, epilogue } = await runJob(job, install('tool1'));
  assert.is(stdout, 'installed tool1');
  const layer = join(changesDir, 'tools.qcow2');
  assert.match(epilogue, new RegExp(`^vmbatch: saved the guest's changes as ${layer} \\([0-9.]+ MiB over ${base}\\)$`));
  for (const file of [layer, join(changesDir, 'tools.json'), changesDir]) assert.is(statSync(file).uid, user.uid, file);
  assert.is(statSync(layer).mode & 0o777, 0o600);
  const record = JSON.parse(readFileSync(join(changesDir, 'tools.json'), 'utf8')) as { createdAt: string; sizeBytes: number };
  const sha = (await execa('sha256sum', [base])).stdout.slice(0, 64);
  assert.equal(
    { ...record, createdAt: 'x', sizeBytes: 0 },
    { version: 1, name: 'tools', template: join(mom.domainsDir, 'testguest.xml'), target: 'vda', base: { path: base, sha256: sha }, createdAt: 'x', jobId: '8430.vm', sizeBytes: 0 },
  );
  assert.is(record.sizeBytes, statSync(layer).size);
  // self-contained: no backing file named in it
  assert.not.match((await execa('qemu-img', ['info', '-U', layer])).stdout, 'backing file');
});

test('job 2 boots base + changes and runs the program; it saves a chain (old and new in one layer)', async () => {
  const job = { jobId: '8431.vm', user, resources: 'other=vbchanges=tools:vbsavechanges=tools2' };
  const { stdout, epilogue } = await runJob(job, `${useTools}${install('tool2').replace('#!/bin/sh\n', '')}`);
  assert.is(stdout, 'hello from tool1\nno tool2\ninstalled tool2');
  assert.match(epilogue, `saved the guest's changes as ${join(changesDir, 'tools2.qcow2')}`);
  const next = { jobId: '8432.vm', user, resources: 'other=vbchanges=tools2' };
  assert.is((await runJob(next, useTools)).stdout, 'hello from tool1\nhello from tool2');
  assert.not.match((await execa('qemu-img', ['info', '-U', join(changesDir, 'tools2.qcow2')])).stdout, 'backing file');
});

test("jobs that only boot from a layer share root's checked copy of it; a layer the submitter swaps for a hostile one is checked anew and refused", async () => {
  const copies = join(mom.stateDir, 'changes-copies', String(user.uid));
  const copyOf = () => readdirSync(copies).filter((n) => n.startsWith('tools2--') && n.endsWith('.qcow2'));
  // job 8432 (above) made it: root's, readable by the guests' group alone, attached to the base
  assert.is(copyOf().length, 1);
  const copy = join(copies, copyOf()[0]!);
  const before = statSync(copy);
  assert.equal([before.uid, before.mode & 0o777], [0, 0o440]);
  assert.match((await execa('qemu-img', ['info', '-U', copy])).stdout, `backing file: ${base}`);
  assert.is((await runJob({ jobId: '8452.vm', user, resources: 'other=vbchanges=tools2' }, useTools)).stdout, 'hello from tool1\nhello from tool2');
  assert.is(statSync(copy).ino, before.ino, 'the second job started from the same copy');
  // the submitter replaces the layer (same name, same record) with one naming a host file
  const layer = join(changesDir, 'tools2.qcow2');
  const saved = readFileSync(layer);
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', `${layer}.new`, '1M'], { uid: user.uid, gid: user.gid });
  await execa('mv', [`${layer}.new`, layer], { uid: user.uid, gid: user.gid });
  try {
    await refused(
      { jobId: '8453.vm', user, resources: 'other=vbchanges=tools2' },
      `vmbatch: CHANGES_REFUSED: your saved changes 'tools2' are refused: the image ${layer} has a backing file (/etc/shadow) and cannot be used as a base image\n${hint}`,
    );
    assert.is(copyOf().length, 1, 'no copy of the refused layer is kept');
  } finally {
    writeFileSync(layer, saved);
  }
});

test('job 3 without changes does not have the program; the saved layer itself never changed', async () => {
  const before = readFileSync(join(changesDir, 'tools.qcow2'));
  const job = { jobId: '8433.vm', user };
  assert.is((await runJob(job, useTools)).stdout, 'no tool1\nno tool2');
  assert.ok(before.equals(readFileSync(join(changesDir, 'tools.qcow2'))));
});

test('root in the guest for a job that saves changes (vbroot=yes): root-owned files saved; the guest root is still the submitter on the node', async () => {
  updateMomConfig(mom, { guestRoot: 'saving-changes' });
  try {
    const job = { jobId: '8440.vm', user, resources: 'other=vbroot=yes:vbsavechanges=rooted' };
    const body = `#!/bin/sh
echo "uid=$(sudo id -u)"
sudo sh -c 'mkdir -p /home/opt && echo from-root > /home/opt/rootfile'
# hostile: the guest's root writes into the shared working directory, and gives a file of the
# submitter's there to root
if sudo sh -c "echo x > '$PBS_O_WORKDIR/byroot'" 2>/dev/null; then echo root-wrote; else echo root-refused; fi
echo mine > "$PBS_O_WORKDIR/mine"
sudo chown 0:0 "$PBS_O_WORKDIR/mine" 2>/dev/null; echo "chown=$?"
`;
    const spec = { ...job, workdir: freshWorkdir(user, 'changes-8440-') };
    submitDirs.push(spec.workdir);
    const script = writeJobScript(mom, spec, body);
    assert.is((await runPrologue(mom, spec, script)).exitCode, 0);
    const run = await runJobStarter(mom, spec, script);
    assert.is(run.stdout, 'uid=0\nroot-refused\nchown=1', run.stderr);
    assert.is((await runEpilogue(mom, spec, script, 0)).exitCode, 0);
    // on the node the share's file server is the submitter: the guest's root makes no file there and gives none away
    assert.not.ok(existsSync(join(spec.workdir, 'byroot')));
    assert.is(statSync(join(spec.workdir, 'mine')).uid, user.uid);
    // a later job without vbroot has the root-owned file, and no sudo
    const later = await runJob(
      { jobId: '8441.vm', user, resources: 'other=vbchanges=rooted' },
      "#!/bin/sh\ncat /home/opt/rootfile\nls -ln /home/opt/rootfile | awk '{print $3}'\nsudo id -u 2>&1\ntrue\n",
    );
    assert.is(later.stdout, 'from-root\n0\nsudo: uid 31337 may not run commands as root here (no rule in /etc/sudoers.d/vmbatch-root)');
    // root only for a job that saves changes, as the site said
    await refused(
      { jobId: '8442.vm', user, resources: 'other=vbroot=yes' },
      'vmbatch: GUEST_ROOT_NOT_ALLOWED: root in your guest (vbroot=yes) is not allowed on this node: only a job that saves its changes (vbsavechanges=NAME) may ask for it\n  hint: submit it with -l other=vbroot=yes:vbsavechanges=NAME to prepare your changes as root, then run your jobs from them (vbchanges=NAME) without vbroot',
    );
  } finally {
    updateMomConfig(mom, { guestRoot: 'never' });
  }
  await refused(
    { jobId: '8443.vm', user, resources: 'other=vbroot=yes:vbsavechanges=rooted' },
    "vmbatch: GUEST_ROOT_NOT_ALLOWED: root in your guest (vbroot=yes) is not allowed on this node: the site allows it for no job (its configuration's guestRoot is never)\n  hint: submit without vbroot; software you need as root can come from the site's catalogue (vbrte) or your own image (vbuserimage), where the site allows them",
  );
});

test('a layer from an http URL with its hash boots like one of your own; a wrong hash, a missing record and a location the site does not allow are refused', async () => {
  const policy = join(mom.root, 'user-images.json');
  writeFileSync(policy, JSON.stringify({ allow: [server.url('/layers/')] }));
  updateMomConfig(mom, { images: { userImagePolicy: policy } });
  try {
    server.route('/layers/tools.qcow2', { kind: 'file', path: join(changesDir, 'tools.qcow2') });
    server.route('/layers/tools.json', { kind: 'file', path: join(changesDir, 'tools.json') });
    const url = server.url('/layers/tools.qcow2');
    const sha = (await execa('sha256sum', [join(changesDir, 'tools.qcow2')])).stdout.slice(0, 64);
    const { stdout } = await runJob({ jobId: '8444.vm', user, resources: `other=vbchanges=${url}:vbchangeshash=sha256:${sha}` }, useTools);
    assert.is(stdout, 'hello from tool1\nno tool2');
    const wrong = '0'.repeat(64);
    await refused(
      { jobId: '8445.vm', user, resources: `other=vbchanges=${url}:vbchangeshash=sha256:${wrong}` },
      `vmbatch: CHANGES_REFUSED: your saved changes '${url}' are refused: the image ${url} does not match its sha256 hash: expected ${wrong}, got ${sha}\n${hint}`,
    );
    server.route('/layers/lone.qcow2', { kind: 'file', path: join(changesDir, 'tools.qcow2') });
    await refused(
      { jobId: '8446.vm', user, resources: `other=vbchanges=${server.url('/layers/lone.qcow2')}:vbchangeshash=sha256:${sha}` },
      `vmbatch: CHANGES_NOT_FOUND: your saved changes '${server.url('/layers/lone.qcow2')}' cannot be read at ${server.url('/layers/lone.json')}: no such file, or you cannot read it\n  hint: \`vmbatch changes list\` shows yours; a job submitted with -l other=vbsavechanges=NAME saves them`,
    );
    await refused(
      { jobId: '8447.vm', user, resources: `other=vbchanges=${server.url('/elsewhere/tools.qcow2')}:vbchangeshash=sha256:${sha}` },
      `vmbatch: CHANGES_REFUSED: your saved changes '${server.url('/elsewhere/tools.qcow2')}' are refused: it is not under a location the site allows (${server.url('/layers/')})\n${hint}`,
    );
  } finally {
    updateMomConfig(mom, { images: {} });
  }
});

test('changes prepared in an interactive session (qsub -I): what the user wrote before logging out is saved, without a sync of theirs', async () => {
  const job = { jobId: '8448.vm', user, resources: 'other=vbsavechanges=typed', workdir: freshWorkdir(user, 'changes-8448-') };
  submitDirs.push(job.workdir);
  const script = interactiveScriptPath(mom, job);
  assert.is((await runPrologue(mom, job, script)).exitCode, 0);
  const run = await runInteractiveJobStarter(mom, job, `mkdir -p "$HOME/bin" && printf '#!/bin/sh\\necho hello from typed\\n' > "$HOME/bin/typed" && chmod +x "$HOME/bin/typed"; exit\n`);
  assert.is(run.exitCode, 0, run.stdout + run.stderr);
  const epi = await runEpilogue(mom, job, script, 0);
  assert.match(epi.stderr, `saved the guest's changes as ${join(changesDir, 'typed.qcow2')}`);
  const { stdout } = await runJob({ jobId: '8449.vm', user, resources: 'other=vbchanges=typed' }, '#!/bin/sh\n"$HOME/bin/typed"\n');
  assert.is(stdout, 'hello from typed');
});

test('a ROOTSSH template saves and boots changes the same way', async () => {
  await runJob({ jobId: '8450.vm', user, resources: 'other=vbdomain=rootssh:vbsavechanges=viassh' }, install('tool4'));
  const { stdout } = await runJob({ jobId: '8451.vm', user, resources: 'other=vbdomain=rootssh:vbchanges=viassh' }, '#!/bin/sh\n"$HOME/bin/tool4"\n');
  assert.is(stdout, 'hello from tool4');
});

// A prologue refused with exactly `message`; the job is aborted and nothing of it is left.
async function refused(job: JobSpec, message: string): Promise<void> {
  const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(mom, job, script);
  assert.is(run.exitCode, 1, run.stderr);
  assert.is(run.stderr, `${message}\nvmbatch: job ${job.jobId} is aborted.`);
  assert.not.ok(existsSync(join(mom.stateDir, 'jobs', job.jobId)));
  await endFailedJob(mom, job, script);
}
const hint = '  hint: save them again from a job of this template (-l other=vbsavechanges=NAME); `vmbatch changes info NAME` shows what they were made from';

test('a layer made from another base is refused, naming both bases', async () => {
  const record = JSON.parse(readFileSync(join(changesDir, 'tools.json'), 'utf8')) as { createdAt: string; sizeBytes: number };
  writeFileSync(join(changesDir, 'other.json'), JSON.stringify({ ...record, name: 'other', base: { path: '/srv/images/old.qcow2', sha256: 'ab'.repeat(32) } }));
  writeFileSync(join(changesDir, 'other.qcow2'), readFileSync(join(changesDir, 'tools.qcow2')));
  const sha = (await execa('sha256sum', [base])).stdout.slice(0, 64);
  await refused(
    { jobId: '8434.vm', user, resources: 'other=vbchanges=other' },
    `vmbatch: CHANGES_REFUSED: your saved changes 'other' are refused: they were made from another base image (/srv/images/old.qcow2, sha256 abababababababab…, on ${record.createdAt}); this template's base ${base} is sha256 ${sha.slice(0, 16)}…\n${hint}`,
  );
});

test('hostile layers: a backing file naming a host file, a link to a file the submitter cannot read, a FIFO, one larger than allowed', async () => {
  const record = JSON.parse(readFileSync(join(changesDir, 'tools.json'), 'utf8')) as { createdAt: string; sizeBytes: number };
  const evil = join(changesDir, 'evil.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', evil, '1M'], { uid: user.uid, gid: user.gid });
  writeFileSync(join(changesDir, 'evil.json'), JSON.stringify({ ...record, name: 'evil' }));
  await refused(
    { jobId: '8435.vm', user, resources: 'other=vbchanges=evil' },
    `vmbatch: CHANGES_REFUSED: your saved changes 'evil' are refused: the image ${evil} has a backing file (/etc/shadow) and cannot be used as a base image\n${hint}`,
  );
  rmSync(join(changesDir, 'link.qcow2'), { force: true });
  await execa('ln', ['-s', '/etc/shadow', join(changesDir, 'link.qcow2')], { uid: user.uid, gid: user.gid });
  writeFileSync(join(changesDir, 'link.json'), JSON.stringify({ ...record, name: 'link' }));
  await refused(
    { jobId: '8436.vm', user, resources: 'other=vbchanges=link' },
    `vmbatch: CHANGES_NOT_FOUND: your saved changes 'link' cannot be read at ${join(changesDir, 'link.qcow2')}: failed to open '${join(changesDir, 'link.qcow2')}': Permission denied\n  hint: \`vmbatch changes list\` shows yours; a job submitted with -l other=vbsavechanges=NAME saves them`,
  );
  // a FIFO would keep the prologue's read waiting for ever
  await execa('mkfifo', [join(changesDir, 'fifo.qcow2')], { uid: user.uid, gid: user.gid });
  writeFileSync(join(changesDir, 'fifo.json'), JSON.stringify({ ...record, name: 'fifo' }));
  await refused(
    { jobId: '8438.vm', user, resources: 'other=vbchanges=fifo' },
    `vmbatch: CHANGES_NOT_FOUND: your saved changes 'fifo' cannot be read at ${join(changesDir, 'fifo.qcow2')}: ${join(changesDir, 'fifo.qcow2')}: not a regular file\n  hint: \`vmbatch changes list\` shows yours; a job submitted with -l other=vbsavechanges=NAME saves them`,
  );
  updateMomConfig(mom, { changes: { maxSizeMiB: 1 } });
  try {
    const big = join(changesDir, 'big.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', big, '64M'], { uid: user.uid, gid: user.gid });
    await execa('qemu-io', ['-c', 'write -P 0x5a 0 3M', big], { uid: user.uid, gid: user.gid });
    writeFileSync(join(changesDir, 'big.json'), JSON.stringify({ ...record, name: 'big' }));
    await refused(
      { jobId: '8437.vm', user, resources: 'other=vbchanges=big' },
      `vmbatch: CHANGES_REFUSED: your saved changes 'big' are refused: the layer is larger than the site allows (more than 1.0 MiB)\n${hint}`,
    );
  } finally {
    updateMomConfig(mom, { changes: {} });
  }
});

test('vmbatch changes: list, info and rm, as the submitter', async () => {
  for (const name of ['other', 'evil', 'link', 'big', 'fifo', 'rooted', 'typed', 'viassh']) assert.is((await asUser(['changes', 'rm', name])).exitCode, 0);
  const list = await asUser(['changes', 'list']);
  assert.is(list.exitCode, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.is(lines.length, 2);
  assert.match(lines[0]!, new RegExp(`^tools  [0-9.]+ MiB  ${mom.domainsDir}/testguest.xml  base ${base}  saved \\S+$`));
  assert.match(lines[1]!, /^tools2 {2}/);
  const info = await asUser(['changes', 'info', 'tools']);
  assert.match(info.stdout, `disk:      vda\nbase:      ${base}\n`);
  assert.match(info.stdout, 'by job 8430.vm');
  assert.is((await asUser(['changes', 'rm', 'tools'])).stdout, `removed ${join(changesDir, 'tools.qcow2')}`);
  const again = await asUser(['changes', 'rm', 'tools']);
  assert.is(again.exitCode, 1);
  assert.match(again.stderr, `vmbatch: CHANGES_NOT_FOUND: your saved changes 'tools' cannot be read at ${join(changesDir, 'tools.qcow2')}: no such file`);
  assert.equal(await leftovers(mom), { domains: [], jobs: [], ports: [], attempts: [] });
});

test.run();
