import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { planCloudInitIso, sshChannelUnit } from '../../src/context/cloud-init.js';
import { generateKeyPair } from '../../src/context/keys.js';
import { makeTar } from '../helpers/make-tar.js';
import { guestShareCommands } from '../../src/share/guest-shares.js';
import type { SharePlan } from '../../src/share/plan-shares.js';

// The parts of the user-data the tests look at.
interface CloudConfig {
  bootcmd: string[][];
  users: { name: string; uid: number; primary_group: string; homedir: string }[];
  write_files: { path: string; content: string; permissions: string; owner?: string; defer?: boolean }[];
  runcmd: string[][];
}

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbatch-ci-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const params = {
  VB_NONCE: 'a'.repeat(32),
  VB_JOBID: '12.vm',
  VB_JOBNAME: 'STDIN',
  VB_USER: "o'brien",
  VB_GROUP: 'physics',
  VB_UID: 31337,
  VB_GID: 31338,
  VB_HOME: '/home/obrien',
  VB_SHELL: '/bin/bash',
  VB_JOBPATH: '/var/spool/vmbatch/jobs',
  VB_JOBFILE: '12.vm.SC',
  VB_READY_CONSOLE: '/dev/ttyS0',
};

async function layout() {
  const tar = join(dir, 'app.tar');
  await makeTar(tar, [{ name: 'app/run.sh', content: 'echo run\n' }]);
  return planCloudInitIso({
    params,
    jobScript: '#!/bin/sh\necho job\n',
    userKey: generateKeyPair('user'),
    hostKey: generateKeyPair('host'),
    tarFiles: [{ file: tar, where: 'guest', path: 'myapp', strip: 1, gzip: false }],
    staticAddress: { address: '10.0.2.20', prefixLength: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] },
  });
}

test("the generated user-data passes Debian's `cloud-init schema`", async () => {
  const l = await layout();
  assert.is(l.volumeId, 'cidata');
  assert.equal(
    l.files.map((f) => f.path),
    ['user-data', 'meta-data', 'network-config'],
  );
  const file = join(dir, 'user-data');
  writeFileSync(file, l.files[0]!.content);
  const run = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
  assert.is(run.exitCode, 0, run.stdout + run.stderr);
  assert.match(run.stdout, `Valid cloud-config: ${file}`);
});

test('user-data creates the user with the exact ids and key, the job, the tar files and the readiness report', async () => {
  const l = await layout();
  const text = l.files[0]!.content;
  assert.ok(text.startsWith('#cloud-config\n'));
  const doc = JSON.parse(text.slice('#cloud-config\n'.length)) as CloudConfig;
  assert.equal(doc.bootcmd, [['sh', '-c', 'getent group physics >/dev/null || groupadd -g 31338 physics']]);
  assert.equal([doc.users[0]!.name, doc.users[0]!.uid, doc.users[0]!.primary_group, doc.users[0]!.homedir], ["o'brien", 31337, 'physics', '/home/obrien']);
  assert.equal(doc.write_files[0], { path: '/etc/systemd/system/vmbatch-ssh-channel.service', content: sshChannelUnit, permissions: '0644' });
  assert.is(
    sshChannelUnit,
    '[Unit]\nDescription=vmbatch: SSH on the virtio-serial port org.vmbatch.ssh\nStartLimitIntervalSec=0\n\n[Service]\nExecStartPre=/bin/mkdir -p /run/sshd\n' +
      "ExecStart=/bin/sh -c 'exec <>/dev/virtio-ports/org.vmbatch.ssh >&0; echo vmbatch-ssh-channel; exec /usr/sbin/sshd -i -e'\nRestart=always\nRestartSec=200ms\n",
  );
  assert.equal(doc.write_files[1]!.path, '/var/spool/vmbatch/jobs/12.vm.SC');
  assert.is(Buffer.from(doc.write_files[1]!.content, 'base64').toString(), '#!/bin/sh\necho job\n');
  assert.equal([doc.write_files[1]!.owner, doc.write_files[1]!.permissions, doc.write_files[1]!.defer], ["o'brien:physics", '0500', true]);
  assert.equal(doc.runcmd.length, 1);
  assert.is(
    doc.runcmd[0]![2]!.split('\n').join('\n'),
    [
      `fail() { printf 'VMBATCH-FAILED %s %s\\n' ${'a'.repeat(32)} "$1" > /dev/ttyS0; exit 1; }`,
      // no root for the user: not even one an earlier job's saved layer left behind
      'rm -f /etc/sudoers.d/vmbatch-root',
      "{ mkdir -p /home/obrien/myapp && tar -x -o -f /var/lib/vmbatch/tar/1.tar -C /home/obrien/myapp --strip-components 1 && chown -R 31337:31338 /home/obrien/myapp && rm -f /var/lib/vmbatch/tar/1.tar; } || fail 'unpacking tar file 1 into myapp failed'",
      "[ -c /dev/virtio-ports/org.vmbatch.ssh ] || fail 'no virtio-serial port org.vmbatch.ssh: the template needs <vbsshchannel/>'",
      "systemctl daemon-reload && systemctl start vmbatch-ssh-channel.service || fail 'the SSH channel service did not start'",
      "addr=$(ip -4 addr show | sed -n 's/.*inet \\([0-9.]*\\)\\/.*/\\1/p' | grep -v '^127\\.' | head -n 1)",
      `printf 'VMBATCH-READY %s %s ip=%s\\n' ${'a'.repeat(32)} "$(hostname)" "\${addr:-none}" > /dev/ttyS0`,
    ].join('\n'),
  );
  // the script is valid sh
  assert.is((await execa('sh', ['-n', '-c', doc.runcmd[0]![2]!], { reject: false })).exitCode, 0);
  assert.ok(l.files[0]!.secret, 'user-data holds the host private key: never printed by a dry run');
});

test('meta-data has a per-job instance-id; network-config is a valid version 2 static setup', async () => {
  const l = await layout();
  const yaml = async (text: string): Promise<unknown> => JSON.parse((await execa('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: text })).stdout);
  assert.equal(await yaml(l.files[1]!.content), { 'instance-id': `vmbatch-12.vm-aaaaaaaa`, 'local-hostname': 'vmbatch-guest' });
  const net = join(dir, 'network-config');
  writeFileSync(net, l.files[2]!.content);
  const out = join(dir, 'net-out');
  const run = await execa('cloud-init', ['devel', 'net-convert', '-p', net, '-k', 'yaml', '-d', out, '-D', 'debian', '-O', 'networkd'], { reject: false });
  assert.is(run.exitCode, 0, run.stderr);
  const unit = readFileSync(join(out, 'etc/systemd/network/10-cloud-init-vmbatch0.network'), 'utf8');
  assert.match(unit, 'Address=10.0.2.20/24');
  assert.match(unit, 'Gateway=10.0.2.2');
  assert.match(unit, 'DNS=10.0.2.3');
});

test('a shared home: user-data makes the guest-private login home, mounts the shares in runcmd, and passes `cloud-init schema`', async () => {
  const share = (i: number, path: string, mode: 'rw' | 'ro') => ({ what: 'workdir' as const, path, mode, tag: `vbshare${i}`, socket: `/s/${i}.sock`, pidFile: `/s/${i}.pid`, logFile: `/s/${i}.log` });
  const plan: SharePlan = {
    shared: [share(0, '/home/obrien', 'rw'), share(1, '/srv/scratch space', 'ro')],
    staged: undefined,
    workdir: '/home/obrien',
    home: '/home/obrien',
    loginHome: "/var/lib/vmbatch-login/o'brien",
  };
  const l = planCloudInitIso({
    params: { ...params, VB_LOGIN_HOME: plan.loginHome },
    jobScript: '#!/bin/sh\n',
    userKey: generateKeyPair('user'),
    hostKey: generateKeyPair('host'),
    tarFiles: [],
    staticAddress: undefined,
    shareCommands: guestShareCommands(plan, { uid: 31337, gid: 31338 }),
  });
  const file = join(dir, 'user-data-shares');
  writeFileSync(file, l.files[0]!.content);
  const schema = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
  assert.is(schema.exitCode, 0, schema.stdout + schema.stderr);
  const doc = JSON.parse(l.files[0]!.content.slice('#cloud-config\n'.length)) as CloudConfig;
  // bootcmd runs before the users module, which makes the login home itself (useradd -m)
  assert.equal(doc.bootcmd[1], ['mkdir', '-p', '/var/lib/vmbatch-login']);
  assert.is(doc.users[0]!.homedir, "/var/lib/vmbatch-login/o'brien");
  // the shares are mounted by runcmd (after users-groups and ssh), before the ready line
  const script = doc.runcmd[0]![2]!;
  const lines = script.split('\n');
  assert.equal(lines.slice(2, 5), [
    'modprobe virtiofs 2>/dev/null || true',
    "mkdir -p /home/obrien && mount -t virtiofs -o rw,nodev vbshare0 /home/obrien || fail 'cannot mount the shared directory /home/obrien (virtiofs tag vbshare0): does the guest kernel have virtiofs?'",
    "mkdir -p '/srv/scratch space' && mount -t virtiofs -o ro,nodev vbshare1 '/srv/scratch space' || fail 'cannot mount the shared directory /srv/scratch space (virtiofs tag vbshare1): does the guest kernel have virtiofs?'",
  ]);
  assert.ok(lines.findIndex((x) => x.includes('VMBATCH-READY')) > 3);
  assert.is((await execa('sh', ['-n', '-c', script], { reject: false })).exitCode, 0);
});

test('root for the user (vbroot=yes): a sudoers rule by uid, written before anything else, and still valid cloud-config', async () => {
  const l = planCloudInitIso({ params: { ...params, VB_ROOT: 'yes' }, jobScript: '', userKey: generateKeyPair('user'), hostKey: generateKeyPair('host'), tarFiles: [], staticAddress: undefined });
  const doc = JSON.parse(l.files[0]!.content.slice('#cloud-config\n'.length)) as CloudConfig;
  const script = doc.runcmd[0]![2]!;
  assert.is(
    script.split('\n')[1],
    "{ command -v sudo >/dev/null && mkdir -p /etc/sudoers.d && printf '#%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' 31337 > /etc/sudoers.d/vmbatch-root && chmod 0440 /etc/sudoers.d/vmbatch-root; } || fail 'vbroot=yes: cannot give the user root (the guest needs sudo)'",
  );
  assert.is((await execa('sh', ['-n', '-c', script], { reject: false })).exitCode, 0);
  const file = join(dir, 'user-data-root');
  writeFileSync(file, l.files[0]!.content);
  const schema = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
  assert.is(schema.exitCode, 0, schema.stdout + schema.stderr);
});

test.run();
