// The kvm line: KVM when the device is a character device that opens read-write, TCG (a warn) otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkKvm } from '../../src/doctor/check-kvm.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const hint = (device: string) =>
  `enable virtualization in the firmware and load kvm_intel or kvm_amd (modprobe); give ${device} to group kvm, mode 0660. Templates with <domain type='qemu'> run either way`;

test.after.each(removeDoctorScratches);

test('no KVM device: a warn, TCG only, with the hint', async () => {
  const s = doctorScratch({}, { kvmDevice: '/nonexistent/kvm' });
  assert.equal(await checkKvm(s.ctx), {
    check: 'kvm',
    status: 'warn',
    message: 'TCG only (no /nonexistent/kvm): guests run several times slower',
    hint: hint('/nonexistent/kvm'),
  });
});

test('a file that is not a device: a warn', async () => {
  const s = doctorScratch();
  const fake = join(s.root, 'kvm');
  writeFileSync(fake, '');
  s.ctx.kvmDevice = fake;
  assert.equal(await checkKvm(s.ctx), { check: 'kvm', status: 'warn', message: `TCG only (${fake} is not a device): guests run several times slower`, hint: hint(fake) });
});

test('a character device that opens read-write: ok, KVM', async () => {
  // /dev/null stands for /dev/kvm (this node has none): what is checked is a device that opens
  const s = doctorScratch({}, { kvmDevice: '/dev/null' });
  assert.equal(await checkKvm(s.ctx), { check: 'kvm', status: 'ok', message: 'KVM' });
});

test.run();
