// (e2e: asks libvirtd at qemu:///system; run under flock /tmp/vmbatch-e2e.lock. No guest is started.)
// `vmbatch doctor` on this node with the repository's templates: nothing fails (exit 0), each
// check's line as this node gives it, and the same as JSON.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cliPath } from '../helpers/image-cache.js';
import { domainsDir } from '../helpers/paths.js';

const gib = 1024 ** 3;
const root = mkdtempSync(join(tmpdir(), 'vmbatch-doctor-e2e-'));
const stateDir = join(root, 'state');
const configFile = join(root, 'vmbatch.json');
test.after(() => rmSync(root, { recursive: true, force: true }));

const version = async (argv: string[], pattern: RegExp) => {
  const run = await execa(argv[0]!, argv.slice(1), { reject: false });
  return pattern.exec(run.stdout + run.stderr)?.[1];
};

// The test cluster's Slurm parts (scripts/setup.sh installs them with its own configuration file,
// so the wrappers are vmbatch's for another configuration than this test's: a warn each).
function slurmLines(): string[] {
  const plugstack = '/etc/slurm/plugstack.conf';
  const plugin = '/usr/lib/x86_64-linux-gnu/slurm-wlm/vmbatch.so';
  if (!existsSync(plugstack) && !existsSync(plugin)) return [`ok   slurm: not a Slurm node: no ${plugstack} and no ${plugin}`];
  const other = (name: string) => [
    `warn slurm ${name}: /usr/local/libexec/vmbatch/${name} is vmbatch's but another version, configuration or path`,
    '     hint: run `vmbatch install-hooks slurm` (it prints what it changes)',
  ];
  return [...other('slurm-hook'), ...other('slurm-task'), `ok   slurm plugstack: ${plugstack}: vmbatch's, as install-hooks writes it`];
}

test('a ready node: every line ok (KVM may be a warn: this node has only TCG), exit 0', async () => {
  mkdirSync(join(stateDir, 'cache'), { recursive: true, mode: 0o755 });
  // a Torque node whose hooks the vmbatch under test installed
  const momPriv = join(root, 'mom_priv');
  const starter = join(root, 'sbin', 'vmbatch-remoteshell');
  mkdirSync(momPriv, { mode: 0o751 });
  await execa(process.execPath, [cliPath, 'install-hooks', 'torque', '--mom-priv', momPriv, '--starter', starter, '--config', configFile]);
  writeFileSync(configFile, JSON.stringify({ stateDir, domainsDir, logFile: '', torque: { momPriv } }));
  const run = await execa(process.execPath, [cliPath, 'doctor'], { env: { VMBATCH_CONFIG: configFile }, reject: false });
  assert.is(run.exitCode, 0, run.stdout + run.stderr);
  assert.is(run.stderr, '');
  const virsh = (await execa('virsh', ['-c', 'qemu:///system', 'version'])).stdout;
  const hypervisor = /Running hypervisor: (.+)/.exec(virsh)?.[1];
  const library = /Using library: (.+)/.exec(virsh)?.[1];
  const free = `${((statfsSync(stateDir).bavail * statfsSync(stateDir).bsize) / gib).toFixed(1)} GiB`;
  const kvm = existsSync('/dev/kvm')
    ? ['ok   kvm: KVM']
    : [
        'warn kvm: TCG only (no /dev/kvm): guests run several times slower',
        "     hint: enable virtualization in the firmware and load kvm_intel or kvm_amd (modprobe); give /dev/kvm to group kvm, mode 0660. Templates with <domain type='qemu'> run either way",
      ];
  const expected = [
    `ok   config: ${configFile} is valid`,
    `ok   libvirt: qemu:///system: ${hypervisor}, ${library}`,
    ...kvm,
    'ok   virtlogd: /run/libvirt/virtlogd-sock accepts connections',
    `ok   qemu-img: version ${await version(['qemu-img', '--version'], /version (\S+)/)}`,
    `ok   genisoimage: version ${await version(['genisoimage', '--version'], /genisoimage (\S+)/)}`,
    `ok   flock: version ${await version(['flock', '--version'], /util-linux (\S+)/)}`,
    `ok   getent: version ${await version(['getent', '--version'], /GLIBC (\S+)\)/)}`,
    `ok   ssh-keygen: version ${await version(['ssh', '-V'], /OpenSSH_(\S+?)[ ,]/)}`,
    `ok   virtiofsd: version ${await version(['/usr/lib/qemu/virtiofsd', '--version'], /version (\S+)/)}`,
    `ok   templates: ${domainsDir}: cloudguest, testguest (default: testguest)`,
    'ok   template cloudguest: valid (CDROM on QEMU, 2 disk(s)); base images and boot files present',
    'ok   template testguest: valid (CDROM on QEMU, 2 disk(s)); base images and boot files present',
    `ok   space state: ${free} free for ${stateDir} (stateDir)`,
    `ok   space cache: ${free} free for ${stateDir}/cache (images.cacheDir)`,
    `ok   permissions state: ${stateDir}: owned by root, mode 0755`,
    `ok   permissions cache: ${stateDir}/cache: owned by root, mode 0755`,
    'ok   catalogue: no sources configured (catalogue.sources): jobs cannot ask for runtime environments',
    'ok   leftovers: nothing of jobs that are gone',
    `ok   torque prologue: ${momPriv}/prologue: vmbatch's, as install-hooks writes it`,
    `ok   torque epilogue: ${momPriv}/epilogue: vmbatch's, as install-hooks writes it`,
    `ok   torque vmbatch-remoteshell: ${starter}: vmbatch's, as install-hooks writes it`,
    `ok   torque $job_starter: ${momPriv}/config: $job_starter ${starter}`,
    ...slurmLines(),
  ];
  const count = (status: string) => expected.filter((l) => l.startsWith(`${status} `)).length;
  assert.is(run.stdout, [...expected, `${count('ok')} ok, ${count('warn')} warn, 0 fail`].join('\n'));

  const json = await execa(process.execPath, [cliPath, 'doctor', '--json'], { env: { VMBATCH_CONFIG: configFile }, reject: false });
  assert.is(json.exitCode, 0, json.stderr);
  const results = JSON.parse(json.stdout) as { check: string; status: string }[];
  assert.equal(
    results.map((r) => `${r.status} ${r.check}`),
    expected.filter((l) => !l.startsWith('     ')).map((l) => l.split(':')[0]!.replace(/\s+/, ' ')),
  );
});

test('a leftover job directory of an earlier boot: a warn naming it, still exit 0', async () => {
  const { utimesSync } = await import('node:fs');
  const jobDir = join(stateDir, 'jobs', '4712.vm');
  mkdirSync(jobDir, { recursive: true });
  utimesSync(jobDir, new Date(1_000_000), new Date(1_000_000));
  const run = await execa(process.execPath, [cliPath, 'doctor'], { env: { VMBATCH_CONFIG: configFile }, reject: false });
  assert.is(run.exitCode, 0, run.stdout);
  assert.match(
    run.stdout,
    `warn leftovers: 1 item of jobs that are gone, which \`vmbatch reconcile\` would remove:\n       - job directory ${jobDir} (from an earlier boot)\n     hint: run \`vmbatch reconcile\`\n`,
  );
  rmSync(jobDir, { recursive: true });
});

test.run();
