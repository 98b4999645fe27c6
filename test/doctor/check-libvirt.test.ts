// The libvirt line: a daemon that does not answer, and a connection that answers through another driver than QEMU.
// (libvirtd itself is asked in test/e2e/doctor.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLibvirt } from '../../src/doctor/check-libvirt.js';
import { doctorScratch, removeDoctorScratches, unansweringLibvirtUri } from '../helpers/doctor-scratch.js';

test.after.each(removeDoctorScratches);

test('a libvirt URI that cannot answer fails with LIBVIRT_UNREACHABLE and its hint', async () => {
  const uri = unansweringLibvirtUri;
  const s = doctorScratch({ libvirtUri: uri });
  assert.equal(await checkLibvirt(s.ctx), {
    check: 'libvirt',
    status: 'fail',
    message: `LIBVIRT_UNREACHABLE: libvirt at ${uri} does not answer: error: Failed to connect socket to '/nonexistent/sock': No such file or directory`,
    hint: 'start libvirtd (scripts/start-libvirt.sh where no service manager runs it) and check `virsh -c URI version`',
  });
});

test('a connection whose hypervisor is not QEMU fails: vmbatch drives QEMU guests only', async () => {
  const s = doctorScratch({ libvirtUri: 'test:///default' });
  assert.equal(await checkLibvirt(s.ctx), {
    check: 'libvirt',
    status: 'fail',
    message: 'test:///default answers, but its hypervisor is TEST 0.0.2, not QEMU',
    hint: "set libvirtUri to a connection of libvirt's QEMU driver (qemu:///system) and check that libvirt-daemon-driver-qemu is installed",
  });
});

test.run();
