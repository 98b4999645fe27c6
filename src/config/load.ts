import { readFileSync } from 'node:fs';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { configSchema, type Config } from './schema.js';
import { parseJsonWith } from './parse-json.js';

/** Where the configuration is read from when VMBATCH_CONFIG does not say. */
export const defaultConfigPath = '/etc/vmbatch/vmbatch.json';

/**
 * Loads and validates the configuration. A missing file at the default path means "all
 * defaults"; a file named explicitly must exist.
 */
export function loadConfig(path = process.env.VMBATCH_CONFIG ?? defaultConfigPath): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && path === defaultConfigPath) return configSchema.parse({});
    throw new VmbatchError('CONFIG_UNREADABLE', { path, reason: (error as Error).message });
  }
  const parsed = parseJsonWith(text, configSchema);
  if ('problems' in parsed) throw new VmbatchError('CONFIG_INVALID', { path, problems: parsed.problems });
  return parsed.data;
}
