import { virsh } from '../hypervisor/virsh.js';
import { fail, failOf, ok, type CheckResult, type ConfiguredContext } from './check-result.js';

/** libvirtd answers at config.libvirtUri, through its QEMU driver. */
export async function checkLibvirt(ctx: ConfiguredContext): Promise<CheckResult> {
  const uri = ctx.config.libvirtUri;
  let stdout: string;
  try {
    ({ stdout } = await virsh(uri, ['version']));
  } catch (error) {
    return failOf('libvirt', error);
  }
  // "Running hypervisor: QEMU 7.2.22" and "Using library: libvirt 9.0.0"
  const hypervisor = /^Running hypervisor:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
  const library = /^Using library:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
  if (!hypervisor?.startsWith('QEMU ')) {
    return fail(
      'libvirt',
      `${uri} answers, but its hypervisor is ${hypervisor ?? 'not named by `virsh version`'}, not QEMU`,
      "set libvirtUri to a connection of libvirt's QEMU driver (qemu:///system) and check that libvirt-daemon-driver-qemu is installed",
    );
  }
  return ok('libvirt', `${uri}: ${hypervisor}${library ? `, ${library}` : ''}`);
}
