import { fileURLToPath } from 'node:url';

// Set by scripts/bundle.mjs: the package runs bundled files from one directory
// (/usr/lib/vmbatch), the checkout runs tsc's output in dist/.
declare const VMBATCH_BUNDLED: boolean | undefined;
const bundled = typeof VMBATCH_BUNDLED !== 'undefined' && VMBATCH_BUNDLED;

/** The file the node binary runs for `vmbatch COMMAND` (the hooks' shims and the daemons vmbatch starts exec it). */
export const vmbatchMain = fileURLToPath(new URL(bundled ? './vmbatch.mjs' : '../cli/main.js', import.meta.url));

/** The directory of the Torque hook templates (torque-hooks/ in the checkout). */
export const torqueHookTemplates = fileURLToPath(new URL(bundled ? './torque-hooks/' : '../../../torque-hooks/', import.meta.url));

/** The directory of the Slurm wrapper templates (slurm/ in the checkout). */
export const slurmHookTemplates = fileURLToPath(new URL(bundled ? './slurm/' : '../../../slurm/', import.meta.url));
