import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { releaseGuestIdentity, reserveGuestIdentity, resolveGuestGroup } from '../../src/identity/guest-identity.js';
import { guestFilesOf } from '../../src/identity/guest-files.js';
import type { DiskPlan } from '../../src/images/disk-plan.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const configOf = (stateDir: string, guestIdentity: unknown) => configSchema.parse({ stateDir, guestIdentity });

test("the guests' group must exist and must not be root's", async () => {
  const missing = await expectVmbatchError(() => resolveGuestGroup(configOf('/x', { group: 'vbnosuchgroup' })), 'GUEST_GROUP_UNUSABLE');
  assert.is(missing.message, "the guests' group 'vbnosuchgroup' (guestIdentity.group) cannot be used: getent group found nothing");
  const root = await expectVmbatchError(() => resolveGuestGroup(configOf('/x', { group: 'root' })), 'GUEST_GROUP_UNUSABLE');
  assert.is(root.message, "the guests' group 'root' (guestIdentity.group) cannot be used: it is root's group (gid 0)");
  assert.is(root.hint, 'set guestIdentity.group to an existing group that is not root\'s, e.g. libvirt-qemu (docs/admin.md, "Guest identity")');
});

test('uids are reserved once each, skipping one a user has and one a process runs as; released idempotently', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vmbatch-uids-'));
  // below the configurable range on purpose: 65534 is nobody's uid
  const config = { ...configOf(stateDir, {}), guestIdentity: { uids: { first: 65534, last: 65536 }, group: 'libvirt-qemu' } };
  // a reservation counts while its job has a directory (one without is taken over)
  for (const job of ['1.vm', '2.vm']) mkdirSync(join(stateDir, 'jobs', job), { recursive: true });
  const squatter = execa('setpriv', ['--reuid=65535', '--regid=65535', '--clear-groups', 'sleep', '60'], { reject: false });
  try {
    await waitFor(() => uidsOfSleepers().includes(65535));
    const first = await reserveGuestIdentity(config, '1.vm');
    assert.is(first.uid, 65536);
    assert.is(first.gid, Number((await execa('getent', ['group', 'libvirt-qemu'])).stdout.split(':')[2]));
    assert.is(statSync(join(stateDir, 'guest-uids')).mode & 0o777, 0o700);
    const full = await expectVmbatchError(() => reserveGuestIdentity(config, '2.vm'), 'GUEST_UIDS_EXHAUSTED');
    assert.is(full.message, "no free uid for the guest's qemu: every uid of this node's pool (65534-65536) is taken by a running job");
    assert.equal(readdirSync(join(stateDir, 'guest-uids')), ['65536']);
    squatter.kill('SIGKILL');
    await squatter;
    assert.is((await reserveGuestIdentity(config, '2.vm')).uid, 65535);
    releaseGuestIdentity(stateDir, '1.vm');
    releaseGuestIdentity(stateDir, '1.vm');
    assert.equal(readdirSync(join(stateDir, 'guest-uids')), ['65535']);
  } finally {
    squatter.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

// the uids `sleep` processes run as
function uidsOfSleepers(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const status = readFileSync(`/proc/${p}/status`, 'utf8');
        return /^Name:\s+sleep$/m.test(status) ? [Number(/^Uid:\s+(\d+)/m.exec(status)![1])] : [];
      } catch {
        return [];
      }
    });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition());
}

test("only the job's own files go to its qemu: overlays, downloads, created disks, the ISO; never a shared input", () => {
  const source = { url: 'https://images.example/a.qcow2', hash: undefined, origin: 'template' as const, maxBytes: undefined, allowedPrefixes: undefined };
  const disk = (target: string, base: Extract<DiskPlan, { kind: 'disk' }>['base'], access: 'direct' | 'overlay', file: string): DiskPlan => ({
    kind: 'disk',
    index: 1,
    target,
    base,
    baseFormat: 'qcow2',
    access,
    cow: access === 'overlay' ? 'qcow2' : undefined,
    file,
    format: 'qcow2',
  });
  const disks: DiskPlan[] = [
    disk('vda', { kind: 'file', path: '/srv/base.qcow2' }, 'overlay', '/j/disk-vda.qcow2'),
    disk('vdb', { kind: 'file', path: '/srv/ro.qcow2' }, 'direct', '/srv/ro.qcow2'),
    disk('vdc', { kind: 'shared', source, cacheFile: '/c/image' }, 'direct', '/c/image'),
    disk('vdd', { kind: 'download', source }, 'direct', '/j/disk-vdd.img'),
    disk('vde', { kind: 'empty', sizeMiB: 1, format: 'qcow2', once: undefined }, 'direct', '/j/disk-vde.qcow2'),
    disk('vdf', { kind: 'empty', sizeMiB: 1, format: 'qcow2', once: 'cvmfs' }, 'overlay', '/j/disk-vdf.qcow2'),
    { kind: 'context', index: 7, target: 'hdc', file: '/j/context.iso', format: 'raw' },
  ];
  assert.equal(guestFilesOf({ disks, method: 'CDROM' }), [
    { file: '/j/disk-vda.qcow2', mode: 0o600 },
    { file: '/j/disk-vdd.img', mode: 0o600 },
    { file: '/j/disk-vde.qcow2', mode: 0o600 },
    { file: '/j/disk-vdf.qcow2', mode: 0o600 },
    { file: '/j/context.iso', mode: 0o400 },
  ]);
  // ROOTSSH and DISK build no ISO
  assert.is(guestFilesOf({ disks, method: 'DISK' }).length, 4);
});

test.run();
