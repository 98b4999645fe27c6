import type { ResolvedPackage } from '../catalogue/resolve-request.js';

/** Where RTEs are installed in the guest: one directory per package name. */
export const guestRteRoot = '/opt/vmbatch/rte';
/** The guest directory %CACHEDIR% stands for: writable space packages may keep downloads in. */
export const guestRteCacheDir = '/var/cache/vmbatch/rte';

/** One package as the guest installs it. */
export interface GuestRte {
  kind: 'tar' | 'image' | 'command';
  name: string;
  /** the package's directory: control/ (and pkg/ for a tarball) */
  dir: string;
  /** what %BASEDIR% stands for: DIR/pkg (tarball), MOUNT/data (image) */
  basedir: string;
  /** tar: the archive on the context volume; image: the disk's serial; command: the command */
  source: string;
  /** image: where it is mounted (read-only) */
  mount: string;
  /** the runtime script sourced with stage 1 and 2 around the job (none for a command check) */
  runtime: string | undefined;
  /** kb:environ settings with %BASEDIR% and %CACHEDIR% filled in */
  exports: string[];
}

/** How the job's shell uses the RTEs: variables to export and runtime scripts to source, in order. */
export interface JobRteSetup {
  exports: string[];
  runtimes: string[];
}

/** The guest's view of resolved packages: tarballs at `tarPath(i)` on the volume, images by serial `imageSerial(i)`. */
export function planGuestRtes(packages: ResolvedPackage[], where: { tarPath: (n: number) => string; imageSerial: (n: number) => string }): GuestRte[] {
  let tars = 0;
  let images = 0;
  return packages.map((p): GuestRte => {
    const dir = `${guestRteRoot}/${p.name}`;
    const fill = (basedir: string) => (s: string) => s.replaceAll('%BASEDIR%', basedir).replaceAll('%CACHEDIR%', guestRteCacheDir);
    if (p.kind === 'tar') {
      const n = tars++;
      const basedir = `${dir}/pkg`;
      return { kind: 'tar', name: p.name, dir, basedir, source: where.tarPath(n), mount: '', runtime: `${dir}/control/runtime`, exports: p.environ.map(fill(basedir)) };
    }
    if (p.kind === 'image') {
      const n = images++;
      const mount = p.mountpoint?.replace(/\/+$/, '') || `${dir}/image`;
      return { kind: 'image', name: p.name, dir, basedir: `${mount}/data`, source: where.imageSerial(n), mount, runtime: `${dir}/control/runtime`, exports: [] };
    }
    return { kind: 'command', name: p.name, dir, basedir: '', source: p.command, mount: '', runtime: undefined, exports: [] };
  });
}

/**
 * The VB_RTES value: one line per package, `KIND<TAB>NAME<TAB>DIR<TAB>BASEDIR<TAB>SOURCE<TAB>MOUNT`
 * (the guest tells a gzip archive by its magic bytes).
 */
export function guestRteList(rtes: GuestRte[]): string {
  return rtes.map((r) => [r.kind, r.name, r.dir, r.basedir, r.source, r.mount || '-'].join('\t')).join('\n');
}

/** What the job's shell needs: the settings to export and the runtime scripts to source. */
export function jobRteSetup(rtes: GuestRte[]): JobRteSetup {
  return { exports: rtes.flatMap((r) => r.exports), runtimes: rtes.flatMap((r) => (r.runtime ? [r.runtime] : [])) };
}
