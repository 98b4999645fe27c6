import { closeSync, constants, openSync, statSync } from 'node:fs';
import { ok, warn, type CheckResult, type DoctorContext } from './check-result.js';

/** KVM when /dev/kvm is a character device this process can open for reading and writing; TCG (software emulation) otherwise. */
export async function checkKvm(ctx: DoctorContext): Promise<CheckResult> {
  const why = kvmProblem(ctx.kvmDevice);
  if (why === undefined) return ok('kvm', 'KVM');
  return warn(
    'kvm',
    `TCG only (${why}): guests run several times slower`,
    `enable virtualization in the firmware and load kvm_intel or kvm_amd (modprobe); give ${ctx.kvmDevice} to group kvm, mode 0660. Templates with <domain type='qemu'> run either way`,
  );
}

// Why the device cannot be used, or undefined when it can.
function kvmProblem(device: string): string | undefined {
  try {
    if (!statSync(device).isCharacterDevice()) return `${device} is not a device`;
    closeSync(openSync(device, constants.O_RDWR));
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `no ${device}` : `${device} cannot be opened: ${code ?? String(error)}`;
  }
}
