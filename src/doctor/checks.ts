import type { DoctorCheck } from './check-result.js';
import { checkCatalogueSources } from './check-catalogue-sources.js';
import { checkConfig } from './check-config.js';
import { checkFreeSpace } from './check-free-space.js';
import { checkKvm } from './check-kvm.js';
import { checkLeftovers } from './check-leftovers.js';
import { checkLibvirt } from './check-libvirt.js';
import { checkPermissions } from './check-permissions.js';
import { checkTemplates } from './check-templates.js';
import { checkTools, checkVirtiofsd } from './check-tools.js';
import { checkTorqueHooks } from './check-torque-hooks.js';
import { checkSlurmHooks } from './check-slurm-hooks.js';
import { checkVirtlogd } from './check-virtlogd.js';
import { checkWarm } from './check-warm.js';

/**
 * Every check of `vmbatch doctor`, in the order they are printed. A new check is one file in
 * src/doctor exporting an async function (context) → result(s), and one entry here: `needs:
 * 'config'` when it reads the configuration (it is then reported as not checked when the
 * configuration does not load), `needs: 'node'` otherwise.
 */
export const doctorChecks: readonly DoctorCheck[] = [
  { name: 'config', needs: 'node', run: checkConfig },
  { name: 'libvirt', needs: 'config', run: checkLibvirt },
  { name: 'kvm', needs: 'node', run: checkKvm },
  { name: 'virtlogd', needs: 'node', run: checkVirtlogd },
  { name: 'tools', needs: 'node', run: checkTools },
  { name: 'virtiofsd', needs: 'config', run: checkVirtiofsd },
  { name: 'templates', needs: 'config', run: checkTemplates },
  { name: 'warm', needs: 'config', run: checkWarm },
  { name: 'space', needs: 'config', run: checkFreeSpace },
  { name: 'permissions', needs: 'config', run: checkPermissions },
  { name: 'catalogue', needs: 'config', run: checkCatalogueSources },
  { name: 'leftovers', needs: 'config', run: checkLeftovers },
  { name: 'torque', needs: 'config', run: checkTorqueHooks },
  { name: 'slurm', needs: 'config', run: checkSlurmHooks },
];
