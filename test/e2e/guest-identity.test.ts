// Each job's qemu runs as its own uid from the node's pool, with the guests' shared group,
// through the real hooks and qemu:///system: libvirt relabels nothing, shared inputs stay
// root's and read-only to guests, and one guest's uid cannot open another job's files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, withMom, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';

const shippedGuest = '/var/lib/vmbatch/guest';
// a pool of this suite's own (job ids 7200-7299), so other suites' guests never share a uid
const pool = { first: 1900007200, last: 1900007299 };

let user: HostUser;
let server: ImageServer;
let mom: Mom;
let guestDir: string;
let gid: number;

// The test guest booted from this node's own copy of its files (so nothing another suite's
// libvirt relabels is measured): kernel, the initrd root:GROUP 0640 as the build installs it, the
// /home base image root's 0644, and a second disk from the shared cache.
const template = (dir: string, url: string, hash: string) =>
  readFileSync(join(domainsDir, 'testguest.xml'), 'utf8')
    .replaceAll(`${shippedGuest}/`, `${dir}/`)
    .replace(
      "<disk type='file' device='cdrom'>",
      `<disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <vbdisksource source='${url}' copy_method='shared'/>\n      <vbcheckhash hashfunction='/usr/bin/sha256sum' hashvalue='${hash}'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n    <disk type='file' device='cdrom'>`,
    );

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  gid = Number((await execa('getent', ['group', 'libvirt-qemu'])).stdout.split(':')[2]);
  server = await startImageServer();
  server.route('/shared.qcow2', { kind: 'file', path: `${shippedGuest}/disk.qcow2` });
  const hash = createHash('sha256')
    .update(readFileSync(`${shippedGuest}/disk.qcow2`))
    .digest('hex');
  mom = await setupMom({ config: { guestIdentity: { uids: pool } } });
  guestDir = join(mom.root, 'guest');
  mkdirSync(guestDir, { mode: 0o755 });
  for (const f of ['vmlinux', 'initrd.img', 'disk.qcow2']) copyFileSync(join(shippedGuest, f), join(guestDir, f));
  chmodSync(join(guestDir, 'vmlinux'), 0o644);
  chmodSync(join(guestDir, 'disk.qcow2'), 0o644);
  chownSync(join(guestDir, 'initrd.img'), 0, gid);
  chmodSync(join(guestDir, 'initrd.img'), 0o640);
  writeFileSync(join(mom.domainsDir, 'identity.xml'), template(guestDir, server.url('/shared.qcow2'), hash));
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

const ownerOf = (file: string) => {
  const st = statSync(file);
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
};
// /proc/PID/status of the domain's qemu: real, effective, saved and filesystem ids, and its groups
async function qemuIds(jobId: string): Promise<{ uid: string; gid: string; groups: string }> {
  const pid = readFileSync(`/var/run/libvirt/qemu/vmbatch-${jobId}.pid`, 'utf8').trim();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().replace(/\s+/g, ' ');
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}
// runs a shell command as a guest's identity, without any supplementary group
const asGuest = (uid: number, command: string) => execa('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'sh', '-c', command], { reject: false });
// what a node holds of this suite's jobs (other suites boot guests of their own meanwhile)
const ours = async (node: Mom) => {
  const left = await leftovers(node);
  return { ...left, domains: left.domains.filter((d) => /^vmbatch-72\d\d\.vm$/.test(d)) };
};
const uidReservations = () => {
  const dir = join(mom.stateDir, 'guest-uids');
  // a reservation holds the job id, then the boot id
  return Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), 'utf8').split('\n')[0]]));
};

test("two jobs at once: each qemu has its own uid of the pool and the guests' group; no file is relabelled; one guest's uid reaches no other job's files", async () => {
  const jobs: JobSpec[] = ['7201.vm', '7202.vm'].map((jobId) => ({ jobId, user, resources: 'other=vbdomain=identity' }));
  const base = join(guestDir, 'disk.qcow2');
  const initrd = join(guestDir, 'initrd.img');
  const baseBefore = ownerOf(base);
  const initrdBefore = ownerOf(initrd);
  assert.is(baseBefore, '0:0 644');
  assert.is(initrdBefore, `0:${gid} 640`);
  const scripts = jobs.map((job) => writeJobScript(mom, job, '#!/bin/sh\necho "uid=$(id -u) user=$(id -un) job=$PBS_JOBID"\n'));
  const runs = await Promise.all(jobs.map((job, i) => runPrologue(mom, job, scripts[i]!)));
  runs.forEach((run, i) => assert.is(run.exitCode, 0, `${jobs[i]!.jobId}: ${run.stderr}`));
  try {
    // the reservations: one uid per job, in a directory only root reads
    assert.is(statSync(join(mom.stateDir, 'guest-uids')).mode & 0o777, 0o700);
    const held = uidReservations();
    const uidOf = (jobId: string) => Number(Object.keys(held).find((n) => held[n] === jobId));
    const [uidA, uidB] = jobs.map((j) => uidOf(j.jobId)) as [number, number];
    assert.is(Object.keys(held).length, 2);
    assert.ok(uidA >= pool.first && uidA <= pool.last && uidB >= pool.first && uidB <= pool.last, `${uidA} ${uidB}`);
    assert.is.not(uidA, uidB);
    for (const [job, uid] of [
      [jobs[0]!, uidA],
      [jobs[1]!, uidB],
    ] as const) {
      assert.equal(await qemuIds(job.jobId), { uid: `${uid} ${uid} ${uid} ${uid}`, gid: `${gid} ${gid} ${gid} ${gid}`, groups: `${gid}` });
      const dir = join(mom.stateDir, 'jobs', job.jobId);
      assert.is(ownerOf(join(dir, 'disk-vda.qcow2')), `${uid}:${gid} 600`);
      assert.is(ownerOf(join(dir, 'disk-vdb.qcow2')), `${uid}:${gid} 600`);
      assert.is(ownerOf(join(dir, 'context.iso')), `${uid}:${gid} 400`);
      // libvirt's own files stay root's
      assert.is(ownerOf(join(dir, 'console.log')), '0:0 600');
      const xml = (await execa('virsh', ['-c', 'qemu:///system', 'dumpxml', `vmbatch-${job.jobId}`])).stdout;
      assert.match(xml, `<seclabel type='static' model='dac' relabel='no'>\n    <label>+${uid}:+${gid}</label>\n  </seclabel>`);
    }
    // the shared inputs, while both guests run: root's, read-only to guests (nothing relabelled)
    const [entry] = readdirSync(join(mom.stateDir, 'cache', 'images'));
    const cached = join(mom.stateDir, 'cache', 'images', entry!, 'image');
    assert.is(ownerOf(base), baseBefore);
    assert.is(ownerOf(initrd), initrdBefore);
    const cachedWhileRunning = ownerOf(cached);
    assert.is(cachedWhileRunning, '0:0 644');

    // job A's uid: its own overlay opens (the probe works), job B's files do not, no shared input is writable
    const a = (command: string) => asGuest(uidA, command);
    const dirB = join(mom.stateDir, 'jobs', jobs[1]!.jobId);
    assert.is((await a(`head -c 3 ${join(mom.stateDir, 'jobs', jobs[0]!.jobId, 'disk-vda.qcow2')}`)).stdout, 'QFI');
    for (const file of [join(dirB, 'disk-vda.qcow2'), join(dirB, 'context.iso')]) {
      const read = await a(`exec 3< ${file}`);
      assert.is(read.exitCode, 2);
      assert.match(read.stderr, `${file}: Permission denied`);
      assert.match((await a(`exec 3>> ${file}`)).stderr, `${file}: Permission denied`);
    }
    for (const file of [base, cached, initrd]) {
      const write = await a(`exec 3>> ${file}`);
      assert.is(write.exitCode, 2, file);
      assert.match(write.stderr, `${file}: Permission denied`);
    }
    // the guests' group reads the shared inputs (the initrd only through the group)
    for (const file of [base, cached, initrd]) assert.is((await a(`head -c 1 ${file} | wc -c`)).stdout, '1');

    // the jobs still run as the submitter
    for (const [i, job] of jobs.entries()) {
      const run = await runJobStarter(mom, job, scripts[i]!);
      assert.is(run.stdout, `uid=31337 user=vbe2e job=${job.jobId}`, run.stderr);
    }
  } finally {
    const ends = await Promise.all(jobs.map((job, i) => runEpilogue(mom, job, scripts[i]!, 0)));
    for (const end of ends) assert.is(end.exitCode, 0, end.stderr);
  }
  const [entry] = readdirSync(join(mom.stateDir, 'cache', 'images'));
  assert.is(ownerOf(join(mom.stateDir, 'cache', 'images', entry!, 'image')), '0:0 644');
  assert.is(ownerOf(base), baseBefore);
  assert.is(ownerOf(initrd), initrdBefore);
  assert.equal(uidReservations(), {});
  assert.equal(await ours(mom), { domains: [], jobs: [], ports: [], attempts: [] });
});

test('a pool of one uid held by a running job: the next prologue is requeued (exit 2) and leaves nothing', async () => {
  const one = { first: 1900007250, last: 1900007250 };
  await withMom({ config: { guestIdentity: { uids: one } } }, async (node) => {
    const holder = { jobId: '7203.vm', user };
    const waiting = { jobId: '7204.vm', user };
    const holderScript = writeJobScript(node, holder, '#!/bin/sh\ntrue\n');
    const waitingScript = writeJobScript(node, waiting, '#!/bin/sh\ntrue\n');
    const held = await runPrologue(node, holder, holderScript);
    assert.is(held.exitCode, 0, held.stderr);
    try {
      const run = await runPrologue(node, waiting, waitingScript);
      assert.is(run.exitCode, 2);
      assert.is(
        run.stderr,
        "vmbatch: GUEST_UIDS_EXHAUSTED: no free uid for the guest's qemu: every uid of this node's pool (1900007250-1900007250) is taken by a running job\n" +
          '  hint: the job is requeued; widen guestIdentity.uids in the configuration, or run fewer jobs on this node at once\n' +
          'vmbatch: job 7204.vm is requeued (attempt 1 of 3).',
      );
      const left = await ours(node);
      assert.equal(left.domains, ['vmbatch-7203.vm']);
      assert.equal(left.jobs, ['7203.vm']);
      assert.equal(left.ports, [], 'no TCP port: the SSH channel is a socket');
      assert.equal(readdirSync(join(node.stateDir, 'guest-uids')), ['1900007250']);
      assert.is(readFileSync(join(node.stateDir, 'guest-uids', '1900007250'), 'utf8').split('\n')[0], '7203.vm');
      assert.is((await qemuIds('7203.vm')).uid, '1900007250 1900007250 1900007250 1900007250');
    } finally {
      await endFailedJob(node, waiting, waitingScript);
      assert.is((await runEpilogue(node, holder, holderScript, 0)).exitCode, 0);
    }
    assert.equal(readdirSync(join(node.stateDir, 'guest-uids')), []);
    assert.equal(await ours(node), { domains: [], jobs: [], ports: [], attempts: [] });
  });
});

test.run();
