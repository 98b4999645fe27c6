// Hostile guests, end to end through the Torque harness and the real test guest: the submitter
// is root in their guest (here through a runtime environment's control/install, which the guest
// runs as root), so the guest forges console lines, floods its console past virtlogd's rotation
// and floods or hangs the root prolog.sh of ROOTSSH. None of it may reach another user's job,
// site-wide state or the prologue's memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHostUser, type HostUser } from '../helpers/host-user.js';
import { startImageServer, type ImageServer } from '../helpers/image-server.js';
import { domainsDir } from '../helpers/paths.js';
import { makeRteTarball, testGuestCatalogue } from '../helpers/rte-packages.js';
import { endFailedJob, leftovers, runEpilogue, runJobStarter, runPrologue, setupMom, teardownMom, withMom, writeJobScript, type Mom } from '../torque/pbs-mom.js';
import { listRtes } from '../../src/catalogue/rte-admin.js';

let alice: HostUser;
let bob: HostUser;
let server: ImageServer;
let mom: Mom;

const tarPackage = (name: string, file: string) =>
  `  <kb:MetaPackage rdf:about="#${file}" kb:name="${name}"><kb:instance rdf:resource="#${file}-tar"/></kb:MetaPackage>\n` +
  `  <kb:TarPackage rdf:about="#${file}-tar" kb:url="rtes/${file}.tar"><kb:basesystem rdf:resource="#busybox"/></kb:TarPackage>\n`;

const packages = {
  victim: ['APPS/TEST/VICTIM-1', ''],
  // the guest knows its nonce from the context volume (CDROM: /mnt/context, ROOTSSH: /run/vmbatch-context)
  forger: [
    'APPS/HOSTILE/FORGER-1',
    `for f in /mnt/context/vmbatch.env /run/vmbatch-context/vmbatch.env; do [ -f "$f" ] && . "$f"; done\nprintf 'VMBATCH-FAILED %s rte APPS/TEST/VICTIM-1: EVIL call 555-0100 to get your job run\\n' "$VB_NONCE" > /dev/ttyS0`,
  ],
  // 3 MiB of lines: virtlogd rotates the console file at 2 MiB, before the ready line
  flood: ['APPS/HOSTILE/FLOOD-1', "yes 'console flood line ..........................................................' | head -c 3145728 > /dev/ttyS0"],
  // 3 MiB without a newline: prolog.sh's ready line ends the same line
  floodline: ['APPS/HOSTILE/FLOODLINE-1', "head -c 3145728 /dev/zero | tr '\\0' x > /dev/ttyS0"],
  // one huge line, then the guest reboots (on_reboot destroy: the domain stops): the console tail in the error stays capped
  floodstop: ['APPS/HOSTILE/FLOODSTOP-1', "head -c 1048576 /dev/zero | tr '\\0' y > /dev/ttyS0\necho > /dev/ttyS0\nreboot -f\nsleep 60"],
  // ROOTSSH: a prolog that never finishes, and one that floods its stderr (the SSH session's)
  sleeper: ['APPS/HOSTILE/SLEEPER-1', 'sleep 600'],
  stderrflood: [
    'APPS/HOSTILE/STDERRFLOOD-1',
    'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null | grep -q "^sh /run/vmbatch-context/prolog.sh" && pid=${p#/proc/}; done\n' +
      "seq 1 50000 | sed 's/^/stderr flood line /' > /proc/$pid/fd/2\nprintf 'last words \\033[31mred\\n' > /proc/$pid/fd/2\nexit 1",
  ],
} satisfies Record<string, [string, string]>;

const catalogue = testGuestCatalogue(
  Object.entries(packages)
    .map(([file, [name]]) => tarPackage(name, file))
    .join(''),
);

test.before(async () => {
  alice = await ensureHostUser('vbe2e', 31337, 31338);
  bob = await ensureHostUser('vbother', 31339, 31340);
  server = await startImageServer();
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-hostile-'));
  for (const [file, [, install]] of Object.entries(packages)) {
    await makeRteTarball(join(dir, `${file}.tar`), { install, runtime: {} });
    server.route(`/rtes/${file}.tar`, { kind: 'file', path: join(dir, `${file}.tar`) });
  }
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from(catalogue) });
  mom = await setupMom({ config: { catalogue: { sources: [server.url('/catalogue.rdf')] }, sshForwardPorts } });
});
test.after(async () => {
  teardownMom(mom);
  await server.close();
});

// Ports and domains of this file's own (other suites run guests and take ports meanwhile).
const sshForwardPorts = { first: 47400, last: 47499 };
const clean = async (node = mom) => {
  const left = await leftovers(node);
  assert.equal({ ...left, domains: left.domains.filter((d) => /^vmbatch-74\d\d\.vm$/.test(d)) }, { domains: [], jobs: [], ports: [], attempts: [] });
};
const rteState = (node: Mom, name: string) => listRtes(join(node.stateDir, 'cache')).find((r) => r.name === name);

// A job that should fail in the prologue: its outcome and what its submitter reads.
async function failing(node: Mom, jobId: string, user: HostUser, rtes: string): Promise<{ exitCode: number; stderr: string; notice: string }> {
  const job = { jobId, user, resources: `other=vbrte=${rtes}` };
  const script = writeJobScript(node, job, '#!/bin/sh\ntrue\n');
  const run = await runPrologue(node, job, script);
  const notice = readFileSync(join(user.home, `vmbatch-${jobId}.err`), 'utf8');
  await endFailedJob(node, job, script);
  return { ...run, notice };
}

// A job that should run: its prologue, its output, its epilogue.
async function running(node: Mom, jobId: string, user: HostUser, rtes: string): Promise<{ prologue: string; stdout: string }> {
  const job = { jobId, user, resources: `other=vbrte=${rtes}` };
  const script = writeJobScript(node, job, '#!/bin/sh\necho "job ran as $(id -un)"\n');
  const pro = await runPrologue(node, job, script);
  try {
    assert.is(pro.exitCode, 0, pro.stderr);
    const run = await runJobStarter(node, job, script);
    return { prologue: pro.stderr, stdout: run.stdout + run.stderr };
  } finally {
    assert.is((await runEpilogue(node, job, script, 0)).exitCode, 0);
  }
}

test("a guest's forged VMBATCH-FAILED fails its own job only: another package is never marked, one user's reports mark nothing, the other user never sees the guest's text", async () => {
  const victim = packages.victim[0];
  assert.is((await running(mom, '7400.vm', bob, victim)).stdout, 'job ran as vbother');
  assert.is(rteState(mom, victim)?.state, 'INSTALLED');
  // the forged line names a package this job does not install: its own job fails with it, nothing else
  const forged = await failing(mom, '7401.vm', alice, packages.forger[0]);
  assert.is(forged.exitCode, 1);
  assert.is(forged.stderr.split('\n')[0], 'vmbatch: GUEST_PROLOG_FAILED: the guest-side prolog of vmbatch-7401.vm failed: rte APPS/TEST/VICTIM-1: EVIL call 555-0100 to get your job run');
  assert.is(rteState(mom, victim)?.state, 'INSTALLED');
  assert.match(readFileSync(mom.logFile, 'utf8'), 'msg="a guest reported a failed install of a runtime environment its job does not install; ignored" job=');
  // the same user forging it twice in jobs that do install it: recorded for that user only
  for (const jobId of ['7402.vm', '7403.vm']) assert.is((await failing(mom, jobId, alice, `${packages.forger[0]}+${victim}`)).exitCode, 1);
  const after = rteState(mom, victim);
  assert.is(after?.state, 'INSTALLED');
  // the other user's next job is not refused and never sees the evil text
  const next = await running(mom, '7404.vm', bob, victim);
  assert.is(next.stdout, 'job ran as vbother');
  assert.not.match(next.prologue + next.stdout, 'EVIL');
  assert.not.match(readFileSync(join(after!.paths.dir, 'rte.json'), 'utf8'), 'EVIL');
  await clean();
});

test("a guest flooding its console past virtlogd's rotation (3 MiB of lines, or one 3 MiB line) is still seen ready, with bounded memory", async () => {
  for (const [jobId, pkg] of [
    ['7410.vm', packages.flood[0]],
    ['7411.vm', packages.floodline[0]],
  ] as const) {
    const started = Date.now();
    assert.is((await running(mom, jobId, alice, pkg)).stdout, 'job ran as vbe2e');
    const ready =
      readFileSync(mom.logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('msg="ready"') && l.includes(`job=${jobId}`)) ?? '';
    const rss = Number(/maxRssKiB=(\d+)/.exec(ready)?.[1]);
    assert.ok(rss > 0 && rss < 200 * 1024, `${jobId}: the prologue's peak RSS ${rss} KiB (${Date.now() - started} ms)`);
  }
  await clean();
});

test('a guest that reboots (its domain stops) after a 1 MiB line: GUEST_STOPPED (2) with a capped console tail', async () => {
  const stopped = await failing(mom, '7412.vm', alice, packages.floodstop[0]);
  assert.is(stopped.exitCode, 2, stopped.stderr);
  const lines = stopped.stderr.split('\n');
  assert.is(lines[0], 'vmbatch: GUEST_STOPPED: guest vmbatch-7412.vm stopped before it was ready; last console lines:');
  assert.ok(lines.includes(`    ${'y'.repeat(200)}...`), stopped.stderr);
  assert.ok(
    lines.every((l) => l.length <= 210),
    'no console line longer than the cap',
  );
  await clean();
});

test('ROOTSSH: a root prolog.sh that hangs ends at the readiness timeout (GUEST_PROLOG_TIMEOUT, 2); one that floods its stderr is quoted by its last 20 lines', async () => {
  const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
  const rootssh = shipped
    .replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>')
    .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '')
    .replace("timeout='120'", "timeout='40'");
  const guest = '/var/lib/vmbatch/guest';
  const config = { rootSsh: { privateKeyFile: `${guest}/root_ssh_key`, hostKeysFile: `${guest}/guest_host_key.pub` }, catalogue: { sources: [server.url('/catalogue.rdf')] }, sshForwardPorts };
  await withMom({ domains: { rootssh }, config }, async (node) => {
    const started = Date.now();
    const hung = await failing(node, '7420.vm', alice, `${packages.sleeper[0]}:vbdomain=rootssh`);
    const took = (Date.now() - started) / 1000;
    assert.is(hung.exitCode, 2, hung.stderr);
    assert.ok(
      /^vmbatch: GUEST_PROLOG_TIMEOUT: the guest-side prolog of vmbatch-7420\.vm \(run over ROOTSSH\) did not finish within \d+ s and wrote nothing on stderr\n/.test(hung.stderr),
      hung.stderr,
    );
    assert.ok(took < 70, `the prologue ended after ${took} s (readiness timeout 40 s)`);
    const flooded = await failing(node, '7421.vm', alice, `${packages.stderrflood[0]}:vbdomain=rootssh`);
    assert.is(flooded.exitCode, 1, flooded.stderr);
    const expected = [...Array.from({ length: 19 }, (_, i) => `stderr flood line ${49982 + i}`), 'last words red'].join('\n');
    assert.is(flooded.stderr.split('\n  hint:')[0], `vmbatch: GUEST_PROLOG_FAILED: the guest-side prolog of vmbatch-7421.vm failed: ${expected}`);
    await clean(node);
  });
});

test.run();
