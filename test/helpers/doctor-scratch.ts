import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import type { ConfiguredContext } from '../../src/doctor/check-result.js';

/** A scratch node for the doctor's checks: its own state, domains and libvirt log directories below /tmp, and a context whose config points there. */
export interface DoctorScratch {
  root: string;
  stateDir: string;
  domainsDir: string;
  ctx: ConfiguredContext;
  cleanup(): void;
}

/** A libvirt URI that cannot answer: its socket does not exist. */
export const unansweringLibvirtUri = 'qemu+unix:///system?socket=/nonexistent/sock';

const made: DoctorScratch[] = [];

/** Removes every scratch node made so far: a suite's `test.after.each`, so that a failed assertion leaves nothing behind either. */
export function removeDoctorScratches(): void {
  for (const scratch of made.splice(0)) scratch.cleanup();
}

/**
 * Makes the scratch node (removed by removeDoctorScratches). libvirt is libvirt's test driver (test:///default, inside virsh, no
 * daemon): the unit suites never talk to libvirtd.
 */
export function doctorScratch(config: Record<string, unknown> = {}, context: Partial<ConfiguredContext> = {}): DoctorScratch {
  const root = mkdtempSync(join(tmpdir(), 'vmbatch-doctor-'));
  const stateDir = join(root, 'state');
  const domainsDir = join(root, 'domains');
  mkdirSync(domainsDir);
  mkdirSync(join(root, 'libvirt-log'));
  const parsed = configSchema.parse({ stateDir, domainsDir, logFile: '', libvirtUri: 'test:///default', libvirtLog: { dir: join(root, 'libvirt-log') }, ...config });
  const scratch: DoctorScratch = {
    root,
    stateDir,
    domainsDir,
    ctx: {
      configPath: join(root, 'vmbatch.json'),
      config: parsed,
      configError: undefined,
      path: '/usr/bin:/bin:/usr/sbin:/sbin',
      kvmDevice: '/dev/kvm',
      virtlogdSocket: '/run/libvirt/virtlogd-sock',
      space: { warnBytes: 0, failBytes: 0 },
      timeoutMs: 2000,
      slurm: { prefix: join(root, 'libexec'), plugstack: join(root, 'plugstack.conf'), plugin: join(root, 'vmbatch.so') },
      ...context,
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  made.push(scratch);
  return scratch;
}
