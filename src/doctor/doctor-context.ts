import { loadConfig, defaultConfigPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { toolSearchPath } from '../exec/run-tool.js';
import { slurmDefaults } from '../install/slurm-hooks.js';
import type { DoctorContext } from './check-result.js';
import { defaultSpaceThresholds } from './check-free-space.js';

/** The context of a real run: the configuration loaded as the hooks load it (VMBATCH_CONFIG, else the default path), the node's own paths. */
export function nodeDoctorContext(env: NodeJS.ProcessEnv): DoctorContext {
  const configPath = env.VMBATCH_CONFIG ?? defaultConfigPath;
  let config: Config | undefined;
  let configError: unknown;
  try {
    config = loadConfig(configPath);
  } catch (error) {
    configError = error;
  }
  return {
    configPath,
    config,
    configError,
    path: toolSearchPath(env.PATH),
    kvmDevice: '/dev/kvm',
    virtlogdSocket: '/run/libvirt/virtlogd-sock',
    space: defaultSpaceThresholds,
    timeoutMs: 5000,
    slurm: { prefix: slurmDefaults.prefix, plugstack: slurmDefaults.plugstack, plugin: slurmDefaults.plugin },
  };
}
