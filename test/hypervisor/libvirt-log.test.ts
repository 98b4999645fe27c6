// libvirt's per-domain qemu log: how the last run of a name ended, and its removal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDomainEnd, removeLibvirtLogs } from '../../src/hypervisor/libvirt-log.js';

// two runs of the same name, as libvirt appends them (abridged from a real log)
const log = `2026-12-02 04:58:50.101+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.0
LC_ALL=C /usr/bin/qemu-system-x86_64 -name guest=vmbatch-101.vm \\
-msg timestamp=on
2026-12-02T04:58:53.948988Z qemu-system-x86_64: terminating on signal 15 from pid 4031 (libvirtd)
2026-12-02 04:58:55.770+0000: shutting down, reason=destroyed
2026-12-02 05:00:20.000+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.0
LC_ALL=C /usr/bin/qemu-system-x86_64 -name guest=vmbatch-101.vm \\
-msg timestamp=on
2026-12-02 05:00:25.419+0000: shutting down, reason=crashed
`;

test("the last run decides: a killed qemu is reason=crashed, without the earlier run's lines", () => {
  assert.equal(parseDomainEnd(log), { reason: 'crashed', qemuLines: [] });
});

test("a destroyed run: the reason and qemu's own last words, without timestamps", () => {
  assert.equal(parseDomainEnd(log.split('\n').slice(0, 5).join('\n')), {
    reason: 'destroyed',
    qemuLines: ['qemu-system-x86_64: terminating on signal 15 from pid 4031 (libvirtd)'],
  });
});

test('a run still going (or a log cut before its end) has no reason', () => {
  assert.equal(parseDomainEnd(log.split('\n').slice(5, 8).join('\n')), { reason: undefined, qemuLines: [] });
});

test("removal takes the job's log and virtlogd's rotations, nothing of another name", () => {
  const dir = mkdtempSync('/tmp/vmbatch-libvirtlog-');
  try {
    for (const name of ['vmbatch-1.vm.log', 'vmbatch-1.vm.log.0', 'vmbatch-1.vm.log.12', 'vmbatch-1xvm.log', 'vmbatch-11.vm.log', 'vmbatch-1.vm.log.old']) writeFileSync(join(dir, name), '');
    removeLibvirtLogs(dir, 'vmbatch-1.vm');
    assert.equal(readdirSync(dir).sort(), ['vmbatch-1.vm.log.old', 'vmbatch-11.vm.log', 'vmbatch-1xvm.log']);
    removeLibvirtLogs(join(dir, 'absent'), 'vmbatch-1.vm');
    assert.ok(existsSync(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
