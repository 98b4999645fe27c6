import { buildXml } from './xml-build.js';
import { childNames, children, cloneTree, textOf, type XmlElement } from './xml-tree.js';
import type { DomainTemplate } from './parse-template.js';
import type { StaticAddress } from '../network/address-pool.js';
import { setGuestSize } from './render-size.js';
import { addShares } from '../share/render-shares.js';

/** What the final domain needs beyond the template: name, disk files, console file, SSH socket. */
export interface DomainRendering {
  domainName: string;
  /** by the template's 1-based disk index: the file the disk uses and its format */
  diskFiles: Map<number, { file: string; format: string }>;
  consoleFile: string;
  /** console remoteshell: the socket of the second serial port */
  loginConsoleSocket?: string;
  /** <vbsshchannel/>: the unix socket libvirt makes for the guest's SSH port (virtio-serial org.vmbatch.ssh) */
  sshSocket: string | undefined;
  /** a static address: a direct-boot kernel line carries it */
  staticAddress?: StaticAddress;
  /** more `vmbatch.NAME=value` words for a direct-boot kernel line (ROOTSSH: the submitter) */
  kernelParams?: Record<string, string | number>;
  /** read-only raw disks added after the template's (RTE images), found by the guest through their serial */
  extraDisks?: { file: string; target: string; serial: string }[];
  /** the job's own qemu identity: a static DAC label, libvirt relabelling nothing */
  guestIdentity?: { uid: number; gid: number };
  /** the guest's size (resolveGuestSize); without it the template's <vcpu> and <memory> stay */
  size?: { vcpus: number; memoryMiB: number };
  /** host directories shared over virtiofs: the virtiofs tag and the socket of each one's daemon */
  shares?: { tag: string; socket: string }[];
}

/** The name of the guest's virtio-serial port that serves SSH (its name in /sys/class/virtio-ports, /dev/virtio-ports/NAME with udev). */
export const sshChannelName = 'org.vmbatch.ssh';

/**
 * Renders the libvirt XML handed to virsh: the job's name and size, per-job disk files, a console file
 * for readiness, the SSH channel (a unix socket, no TCP port), and every vb* tag removed.
 */
export function renderDomain(template: DomainTemplate, r: DomainRendering): string {
  const domain = cloneTree(template.tree);
  domain.name = [{ _: r.domainName }];
  delete domain.uuid;
  if (r.size) setGuestSize(domain, r.size);
  const devices = children(domain, 'devices')[0]!;

  children(devices, 'disk').forEach((disk, i) => {
    const plan = r.diskFiles.get(i + 1);
    if (!plan) return;
    disk.$ = { ...disk.$, type: 'file' };
    const driver = children(disk, 'driver')[0];
    disk.driver = [{ ...driver, $: { ...driver?.$, name: driver?.$?.name ?? 'qemu', type: plan.format } }];
    disk.source = [{ $: { file: plan.file } }];
  });
  devices.disk = [
    ...children(devices, 'disk'),
    ...(r.extraDisks ?? []).map((d) => ({
      $: { type: 'file', device: 'disk' },
      driver: [{ $: { name: 'qemu', type: 'raw' } }],
      source: [{ $: { file: d.file } }],
      target: [{ $: { dev: d.target, bus: 'virtio' } }],
      serial: [{ _: d.serial }],
      readonly: [{}],
    })),
  ];

  // readiness is read from the first serial port, which must be a file vmbatch watches
  delete devices.serial;
  delete devices.console;
  if (template.vb.hypervisor === 'XEN3' || template.vb.hypervisor === 'XEN4') {
    devices.console = [{ $: { type: 'file' }, source: [{ $: { path: r.consoleFile } }], target: [{ $: { type: 'xen', port: '0' } }] }];
  } else {
    const serials: XmlElement[] = [{ $: { type: 'file' }, source: [{ $: { path: r.consoleFile } }], target: [{ $: { port: '0' } }] }];
    if (r.loginConsoleSocket) serials.push({ $: { type: 'unix' }, source: [{ $: { mode: 'bind', path: r.loginConsoleSocket } }], target: [{ $: { port: '1' } }] });
    devices.serial = serials;
  }

  // SSH reaches the guest through a unix socket in the job directory, never a host TCP port
  // that any local user could reach or take first; libvirt adds the virtio-serial controller
  if (template.vb.sshChannel && r.sshSocket) {
    const channel: XmlElement = { $: { type: 'unix' }, source: [{ $: { mode: 'bind', path: r.sshSocket } }], target: [{ $: { type: 'virtio', name: sshChannelName } }] };
    devices.channel = [...children(devices, 'channel'), channel];
  }
  addShares(domain, devices, r.shares ?? []);
  // a guest booted from a kernel gets its static network on the boot line, before any volume is read
  const os = children(domain, 'os')[0];
  const cmdline = os && children(os, 'cmdline')[0];
  const words = [...(r.staticAddress ? [kernelNetArgument(r.staticAddress)] : []), ...Object.entries(r.kernelParams ?? {}).map(([name, value]) => `vmbatch.${name}=${value}`)];
  if (os && cmdline && words.length) os.cmdline = [{ _: `${textOf(cmdline)} ${words.join(' ')}`.trim() }];
  if (r.guestIdentity) {
    // vmbatch owns every file's ownership: a template's DAC label (domain or per device) would
    // let libvirt chown shared bases to a guest; other models' labels are the admin's
    stripDacSeclabels(domain);
    const label = `+${r.guestIdentity.uid}:+${r.guestIdentity.gid}`;
    domain.seclabel = [...children(domain, 'seclabel'), { $: { type: 'static', model: 'dac', relabel: 'no' }, label: [{ _: label }] }];
  }
  stripVbTags(domain);
  return buildXml('domain', domain);
}

/** Removes every vb* element from a tree, at any depth. */
export function stripVbTags(element: XmlElement): void {
  for (const name of childNames(element)) {
    if (name.toLowerCase().startsWith('vb')) {
      delete element[name];
      continue;
    }
    for (const child of children(element, name)) stripVbTags(child);
  }
}

/** Removes every DAC <seclabel> (and every one without a model, which libvirt may give to DAC), at any depth. */
export function stripDacSeclabels(element: XmlElement): void {
  for (const name of childNames(element)) {
    if (name === 'seclabel') {
      const kept = children(element, name).filter((l) => l.$?.model !== undefined && l.$.model !== 'dac');
      if (kept.length) element[name] = kept;
      else delete element[name];
      continue;
    }
    for (const child of children(element, name)) stripDacSeclabels(child);
  }
}

/** `vmbatch.net=ADDRESS/PREFIX,GATEWAY,DNS+DNS`: the static network on a guest kernel's boot line. */
export function kernelNetArgument(a: StaticAddress): string {
  return `vmbatch.net=${a.address}/${a.prefixLength},${a.gateway ?? ''},${a.dns.join('+')}`;
}
