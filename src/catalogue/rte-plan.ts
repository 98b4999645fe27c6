import { entryKey, entryPaths } from '../images/cache-entry.js';
import { planGuestRtes, type GuestRte } from '../context/rte-layout.js';
import { rteTarName } from '../context/iso-layout.js';
import type { ResolvedPackage, RteResolution } from './resolve-request.js';

/** A package the host fetches into the shared cache for the job. */
export interface PlannedRtePackage {
  name: string;
  kind: 'tar' | 'image';
  instance: string;
  /** the first kb:url: the package's identity in the cache, fetched first */
  url: string;
  /** the further kb:urls, tried in order when the first cannot be downloaded */
  mirrors: string[];
  cacheFile: string;
  /** image: the read-only disk the guest sees (target and serial) */
  disk?: { target: string; serial: string };
}

/** The RTE part of a job's plan: what the host fetches, what the guest installs, in order. */
export interface RtePlan {
  resolution: RteResolution;
  packages: PlannedRtePackage[];
  guest: GuestRte[];
  /** how many different users' guests must report a package's install failing before it is FAILED for all */
  failuresToMarkFailed: number;
}

/** Plans the resolved packages: cache files, context volume paths, extra disks with free targets. */
export function planRtes(resolution: RteResolution, input: { cacheDir: string; usedTargets: string[]; failuresToMarkFailed?: number }): RtePlan {
  const fetched = resolution.packages.filter((p): p is Exclude<ResolvedPackage, { kind: 'command' }> => p.kind !== 'command');
  const targets = freeVirtioTargets(input.usedTargets);
  let images = 0;
  const packages = fetched.map((p): PlannedRtePackage => {
    const [url, ...mirrors] = p.urls as [string, ...string[]];
    const planned: PlannedRtePackage = { name: p.name, kind: p.kind, instance: p.instance, url, mirrors, cacheFile: entryPaths(input.cacheDir, 'download', entryKey(url)).data };
    if (p.kind === 'image') planned.disk = { target: targets.next().value as string, serial: imageSerial(images++) };
    return planned;
  });
  const guest = planGuestRtes(resolution.packages, { tarPath: rteTarName, imageSerial });
  return { resolution, packages, guest, failuresToMarkFailed: input.failuresToMarkFailed ?? 2 };
}

/** The serial of the n-th RTE image disk, by which the guest finds it (/sys/block/DEV/serial). */
export function imageSerial(n: number): string {
  return `vmbatch-rte-${n + 1}`;
}

// virtio targets (vdb, vdc, ...) that the template's own disks do not use
function* freeVirtioTargets(used: string[]): Generator<string> {
  const taken = new Set(used);
  for (let i = 0; i < 26 * 27; i++) {
    const name = i < 26 ? `vd${String.fromCharCode(97 + i)}` : `vd${String.fromCharCode(96 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`;
    if (!taken.has(name)) yield name;
  }
}
