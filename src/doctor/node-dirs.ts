import type { Config } from '../config/schema.js';
import { cacheDirOf } from '../images/cache-entry.js';

/** The directories vmbatch writes as root and jobs fill: the state directory and the image cache. */
export function nodeDirs(config: Config): { name: string; key: string; dir: string }[] {
  return [
    { name: 'state', key: 'stateDir', dir: config.stateDir },
    { name: 'cache', key: 'images.cacheDir', dir: cacheDirOf(config) },
  ];
}
