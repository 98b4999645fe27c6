import { children, type XmlElement } from '../domain/xml-tree.js';

/**
 * Gives a domain tree its virtiofs shares: one <filesystem> per share whose daemon vmbatch runs
 * (libvirt connects qemu to its socket: <source socket=...>, no <binary>, so libvirt starts no
 * daemon of its own as root), and the shared guest memory vhost-user needs: <access mode='shared'>,
 * backed by memfd unless the template already chose a memory source or huge pages.
 */
export function addShares(domain: XmlElement, devices: XmlElement, shares: { tag: string; socket: string }[]): void {
  if (shares.length === 0) return;
  const backing = children(domain, 'memoryBacking')[0] ?? {};
  const hasSource = 'source' in backing || 'hugepages' in backing;
  domain.memoryBacking = [{ ...backing, ...(hasSource ? {} : { source: [{ $: { type: 'memfd' } }] }), access: [{ $: { mode: 'shared' } }] }];
  devices.filesystem = [
    ...children(devices, 'filesystem'),
    ...shares.map((s) => ({
      $: { type: 'mount' },
      driver: [{ $: { type: 'virtiofs', queue: '1024' } }],
      source: [{ $: { socket: s.socket } }],
      target: [{ $: { dir: s.tag } }],
    })),
  ];
}
