// The warm lines: one per <vbwarmstart/> template, ok when its default size has a current saved
// state, a warn (its jobs boot meanwhile) when it has none or a stale one; none for other templates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkWarm } from '../../src/doctor/check-warm.js';
import { loadTemplate } from '../../src/domain/parse-template.js';
import { planWarmBuild } from '../../src/warm/build-warm.js';
import { fingerprintOf } from '../../src/warm/fingerprint.js';
import { doctorScratch, removeDoctorScratches, type DoctorScratch } from '../helpers/doctor-scratch.js';
import { writeFakeEntry } from '../helpers/warm-state.js';
import { poolGuestId, writePoolGuestRecord } from '../../src/warm/pool-guest.js';

test.after.each(removeDoctorScratches);

// A warm template whose kernel and base disk are scratch files.
function warmTemplate(s: DoctorScratch, warm: boolean | string = true): string {
  for (const f of ['vmlinux', 'disk.qcow2']) writeFileSync(join(s.root, f), f);
  return (
    `<domain type='qemu'><name>w</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><vbconfig>${warm === true ? '<vbwarmstart/>' : warm || ''}<vbpreparemethod>CDROM</vbpreparemethod><vbhypervisor>QEMU</vbhypervisor></vbconfig>` +
    `<os><type>hvm</type><kernel>${join(s.root, 'vmlinux')}</kernel></os><devices>` +
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(s.root, 'disk.qcow2')}'/><target dev='vda' bus='virtio'/></disk>` +
    `<disk type='file' device='cdrom'><vbpreparecdrom source='context.iso'/><target dev='hdc' bus='ide'/><readonly/></disk></devices></domain>`
  );
}

test('no warm template: no line', async () => {
  const s = doctorScratch();
  writeFileSync(join(s.domainsDir, 'plain.xml'), warmTemplate(s, false));
  assert.equal(await checkWarm(s.ctx), []);
});

test('a warm template without a saved state: a warn naming the build to run', async () => {
  const s = doctorScratch();
  writeFileSync(join(s.domainsDir, 'fast.xml'), warmTemplate(s));
  assert.equal(await checkWarm(s.ctx), [
    {
      check: 'warm fast',
      status: 'warn',
      message: 'its jobs boot instead of starting warm: no saved state for this guest (1 vCPU(s), 256 MiB) yet (vmbatch warm build TEMPLATE --vcpus 1 --memory 256 makes it)',
      hint: 'run `vmbatch warm build fast`',
    },
  ]);
});

test('a current saved state: ok; once the base disk changes: a warn saying it is stale', async () => {
  const s = doctorScratch();
  const file = join(s.domainsDir, 'fast.xml');
  writeFileSync(file, warmTemplate(s));
  const template = await loadTemplate(file);
  const build = planWarmBuild(s.ctx.config, template, { vcpus: 1, memoryMiB: 256 }, join(s.stateDir, 'warm', '.x'), '0');
  assert.ok('plan' in build);
  const { plan } = build;
  mkdirSync(join(s.stateDir, 'warm'), { recursive: true, mode: 0o755 });
  chmodSync(s.stateDir, 0o755);
  const scratch = { root: s.root, stateDir: s.stateDir, base: join(s.root, 'disk.qcow2'), kernel: join(s.root, 'vmlinux'), cleanup: () => undefined };
  writeFakeEntry(scratch, plan.key, { template: file, disks: [{ target: 'vda', file: `${plan.entry.dir}/disk-vda.qcow2`, virtualSize: 1 }], fingerprint: fingerprintOf(plan.fingerprintFiles) });
  assert.equal(await checkWarm(s.ctx), [{ check: 'warm fast', status: 'ok', message: 'saved state current (1 vCPU(s), 256 MiB, built 2025-01-02T03:04:05.000Z)' }]);
  writeFileSync(join(s.root, 'disk.qcow2'), 'another base');
  assert.equal(await checkWarm(s.ctx), [
    {
      check: 'warm fast',
      status: 'warn',
      message: `its jobs boot instead of starting warm: the saved state is stale: ${join(s.root, 'disk.qcow2')} changed since the state was saved`,
      hint: 'run `vmbatch warm build fast`',
    },
  ]);
});

test("build='auto': the warn says the next job builds it", async () => {
  const s = doctorScratch();
  writeFileSync(join(s.domainsDir, 'auto.xml'), warmTemplate(s, "<vbwarmstart build='auto'/>"));
  const lines = (await checkWarm(s.ctx)) as { hint?: string }[];
  assert.is(lines[0]?.hint, 'its next job builds it in the background, or run `vmbatch warm build auto`');
});

test('a pool: the ok line says how many of its guests wait, and how to start the missing ones', async () => {
  const s = doctorScratch();
  const file = join(s.domainsDir, 'pooled.xml');
  writeFileSync(file, warmTemplate(s, "<vbwarmstart pool='2'/>"));
  const build = planWarmBuild(s.ctx.config, await loadTemplate(file), { vcpus: 1, memoryMiB: 256 }, join(s.stateDir, 'warm', '.x'), '0');
  const { plan } = build as Exclude<typeof build, { skipped: string }>;
  mkdirSync(join(s.stateDir, 'warm'), { recursive: true, mode: 0o755 });
  chmodSync(s.stateDir, 0o755);
  const scratch = { root: s.root, stateDir: s.stateDir, base: join(s.root, 'disk.qcow2'), kernel: join(s.root, 'vmlinux'), cleanup: () => undefined };
  writeFakeEntry(scratch, plan.key, { template: file, disks: [{ target: 'vda', file: `${plan.entry.dir}/disk-vda.qcow2`, virtualSize: 1 }], fingerprint: fingerprintOf(plan.fingerprintFiles) });
  const id = poolGuestId(plan.key, 1);
  mkdirSync(join(s.stateDir, 'jobs', id), { recursive: true });
  writePoolGuestRecord(join(s.stateDir, 'jobs', id), {
    version: 1,
    key: plan.key,
    template: file,
    waitingSince: new Date().toISOString(),
    idleSeconds: 3600,
    cdromTarget: 'hdc',
    uid: 64001,
    gid: 64000,
  });
  assert.equal(await checkWarm(s.ctx), [
    {
      check: 'warm pooled',
      status: 'ok',
      message: "saved state current (1 vCPU(s), 256 MiB, built 2025-01-02T03:04:05.000Z); 1 of 2 pool guest(s) waiting (`vmbatch warm fill pooled` starts them; each job's prologue tops the pool up)",
    },
  ]);
});

test.run();
