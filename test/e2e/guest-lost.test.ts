// A guest that dies under a running job (destroyed, qemu killed as the out-of-memory killer
// does, a guest kernel panic): the job ends with 255, remoteshell says what it saw, and the
// epilogue (whose stderr pbs_mom appends to the job's error file) adds libvirt's reason and the
// guest's last console lines. libvirt's per-domain log goes with the job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { makeRteTarball, testGuestCatalogue } from '../helpers/rte-packages.js';
import { leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, startJobStarter, teardownMom, withMom, writeJobScript, type JobSpec, type Mom } from '../torque/pbs-mom.js';

let user: HostUser;
let server: ImageServer;
let mom: Mom;

// a runtime environment whose install (root in the guest) panics the kernel once the job asks
const panicInstall = '(while [ ! -e /tmp/vmbatch-panic-now ]; do sleep 1; done; echo c > /proc/sysrq-trigger) </dev/null >/dev/null 2>&1 &';
const catalogue = testGuestCatalogue(`  <kb:MetaPackage rdf:about="#panic" kb:name="APPS/HOSTILE/PANIC-1"><kb:instance rdf:resource="#panic-tar"/></kb:MetaPackage>
  <kb:TarPackage rdf:about="#panic-tar" kb:url="rtes/panic.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>
`);

test.before(async () => {
  user = await ensureHostUser('vbe2e', 31337, 31338);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-guestlost-'));
  await makeRteTarball(join(dir, 'panic.tar'), { install: panicInstall, runtime: {} });
  server.route('/rtes/panic.tar', { kind: 'file', path: join(dir, 'panic.tar') });
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue) });
  mom = await setupMom({ config: { catalogue: { sources: [server.url('/catalogue.rdf')] } } });
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

const libvirtLog = (jobId: string) => `/var/log/libvirt/qemu/vmbatch-${jobId}.log`;
const lostLine = (jobId: string, what: string) =>
  `vmbatch: GUEST_LOST: job ${jobId} lost its guest vmbatch-${jobId} while it ran: ${what}\n` +
  "  hint: the node's epilogue adds libvirt's reason and the guest's last console lines below; a guest that ran out of memory needs a larger request (-l mem=...)";
const stopped = 'the guest stopped (qemu is gone: its SSH channel refuses connections)';

// Starts a job that prints 'started' and then waits; `kill` ends its guest once it runs.
async function loseGuest(job: JobSpec, kill: () => Promise<unknown>, script = '#!/bin/sh\necho started\nsleep 100\necho never\n') {
  const path = writeJobScript(mom, job, script);
  const pro = await runPrologue(mom, job, path);
  assert.is(pro.exitCode, 0, pro.stderr);
  const running = startJobStarter(mom, job, path);
  await running.printed('started');
  await kill();
  const run = await running.ended;
  const epi = await runEpilogue(mom, job, path, run.exitCode);
  assert.is(epi.exitCode, 0, epi.stderr);
  assert.not.ok(existsSync(libvirtLog(job.jobId)), "libvirt's log of the job's domain is removed");
  await clean();
  return { run, epilogue: epi.stderr.split('\n') };
}

// Nothing of this file's jobs is left (other suites may run guests meanwhile).
async function clean(): Promise<void> {
  const left = await leftovers(mom);
  assert.equal({ ...left, domains: left.domains.filter((d) => /^vmbatch-78\d\d\.vm$/.test(d)) }, { domains: [], jobs: [], ports: [], attempts: [] });
}

// The console block: its header, then at least one quoted line, every one printable.
function assertConsole(lines: string[]): void {
  assert.is(lines[0], "vmbatch: the guest's last console lines:");
  assert.ok(lines.length >= 2 && lines.length <= 16, lines.join('\n'));
  for (const l of lines.slice(1)) assert.match(l, /^ {2}\| [\x20-\x7e\t]*$/);
}

test('virsh destroy under a running job: 255, GUEST_LOST from remoteshell, reason=destroyed and the console from the epilogue', async () => {
  const { run, epilogue } = await loseGuest({ jobId: '7811.vm', user }, () => execa('virsh', ['-c', 'qemu:///system', 'destroy', 'vmbatch-7811.vm']));
  assert.is(run.exitCode, 255);
  assert.is(run.stdout, 'started');
  assert.is(run.stderr, lostLine('7811.vm', stopped));
  assert.is(epilogue[0], 'vmbatch: the guest vmbatch-7811.vm of job 7811.vm stopped before the job ended: it was destroyed (virsh destroy, by an administrator or a tool)');
  assert.match(epilogue[1]!, /^vmbatch: libvirt's log: shutting down, reason=destroyed; qemu-system-x86_64: terminating on signal 15 from pid \d+ \(libvirtd\)$/);
  assertConsole(epilogue.slice(2));
});

test("qemu killed with SIGKILL, as the node's out-of-memory killer does: reason=crashed", async () => {
  const { run, epilogue } = await loseGuest({ jobId: '7812.vm', user }, () => execa('pkill', ['-KILL', '-f', 'guest=vmbatch-7812.vm,']));
  assert.is(run.exitCode, 255);
  assert.is(run.stderr, lostLine('7812.vm', stopped));
  assert.is(epilogue[0], "vmbatch: the guest vmbatch-7812.vm of job 7812.vm stopped before the job ended: qemu ended unexpectedly (killed by a signal, e.g. by the node's out-of-memory killer)");
  assert.is(epilogue[1], "vmbatch: libvirt's log: shutting down, reason=crashed");
  assertConsole(epilogue.slice(2));
});

test('a guest kernel panic under the job (its root is hostile): the panic is among the console lines', async () => {
  const job = { jobId: '7813.vm', user, resources: 'other=vbrte=APPS/HOSTILE/PANIC-1' };
  const { run, epilogue } = await loseGuest(job, async () => undefined, '#!/bin/sh\necho started\ntouch /tmp/vmbatch-panic-now\nsleep 100\n');
  assert.is(run.exitCode, 255);
  assert.is(run.stderr, lostLine('7813.vm', stopped));
  // the panicking kernel reboots (panic=-1 on the test guest's command line), which ends the guest
  assert.is(
    epilogue[0],
    'vmbatch: the guest vmbatch-7813.vm of job 7813.vm stopped before the job ended: its kernel panicked (Kernel panic - not syncing: sysrq triggered crash); ' +
      'libvirt: the guest shut down or rebooted (poweroff, halt or reboot inside the guest: vmbatch guests end on reboot)',
  );
  assert.match(epilogue[1]!, /^vmbatch: libvirt's log: shutting down, reason=shutdown/);
  assertConsole(epilogue.slice(2));
});

test("a job that ends normally: the epilogue reports nothing and removes libvirt's log; libvirtLog.keep keeps it", async () => {
  const job = { jobId: '7814.vm', user };
  const path = writeJobScript(mom, job, '#!/bin/sh\necho fine\n');
  assert.is((await runPrologue(mom, job, path)).exitCode, 0);
  assert.ok(existsSync(libvirtLog('7814.vm')));
  assert.is((await runJobStarter(mom, job, path)).stdout, 'fine');
  const epi = await runEpilogue(mom, job, path, 0);
  assert.is(epi.stderr, '');
  assert.not.ok(existsSync(libvirtLog('7814.vm')));

  await withMom({ config: { libvirtLog: { keep: true } } }, async (keeping) => {
    const kept = { jobId: '7815.vm', user };
    const script = writeJobScript(keeping, kept, '#!/bin/sh\n');
    assert.is((await runPrologue(keeping, kept, script)).exitCode, 0);
    await runJobStarter(keeping, kept, script);
    await runEpilogue(keeping, kept, script, 0);
    assert.ok(existsSync(libvirtLog('7815.vm')), 'the site keeps its logs');
    rmSync(libvirtLog('7815.vm'));
  });
});

test.run();
