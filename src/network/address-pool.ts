import type { Config } from '../config/schema.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { releaseAll, reserveOne } from '../state/reservations.js';

/** A guest's static network settings. */
export interface StaticAddress {
  address: string;
  prefixLength: number;
  gateway: string | undefined;
  dns: string[];
}

/** The addresses of the node's pool, in the order they are handed out. */
export function poolAddresses(network: Config['network']): string[] {
  if (network.addresses) return network.addresses;
  if (!network.base || !network.count) return [];
  const start = network.base.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  return Array.from({ length: network.count }, (_, i) => {
    const n = start + i;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  });
}

/**
 * Reserves a static address for a job from the node's pool (STATEDIR/addresses, one file per
 * address); undefined in DHCP mode. A full pool is a transient error: the job is requeued.
 */
export async function reserveAddress(config: Config, jobId: string): Promise<StaticAddress | undefined> {
  const { network } = config;
  if (network.mode !== 'static') return undefined;
  const pool = poolAddresses(network);
  const address = await reserveOne(config.stateDir, 'addresses', jobId, pool);
  if (address === undefined) {
    throw new VmbatchError('ADDRESSES_EXHAUSTED', { pool: pool.length <= 4 ? pool.join(', ') : `${pool[0]} ... ${pool.at(-1)}, ${pool.length} addresses` });
  }
  return { address, prefixLength: network.prefixLength, gateway: network.gateway, dns: network.dns };
}

/** Releases the job's address (idempotent). */
export function releaseAddress(stateDir: string, jobId: string): void {
  releaseAll(stateDir, 'addresses', jobId);
}
