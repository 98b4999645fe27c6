import { children, type XmlElement } from './xml-tree.js';

/**
 * Gives a domain tree the job's size: <memory unit='MiB'> and <currentMemory unit='MiB'> (the
 * template's units replaced, other attributes such as dumpCore kept) and <vcpu> (placement and
 * cpuset kept, current= dropped: every vCPU is online, as the guest's node file says). Missing
 * elements are added after <memory>; the others keep their place.
 */
export function setGuestSize(domain: XmlElement, size: { vcpus: number; memoryMiB: number }): void {
  const memoryAttrs = (el: XmlElement | undefined) => ({ ...withoutKeys(el?.$, ['unit']), unit: 'MiB' });
  const memory: XmlElement = { $: memoryAttrs(children(domain, 'memory')[0]), _: String(size.memoryMiB) };
  const current: XmlElement = { $: { unit: 'MiB' }, _: String(size.memoryMiB) };
  const vcpuAttrs = withoutKeys(children(domain, 'vcpu')[0]?.$, ['current']);
  const vcpu: XmlElement = { ...(Object.keys(vcpuAttrs).length ? { $: vcpuAttrs } : {}), _: String(size.vcpus) };
  const sized: Record<string, XmlElement[]> = { memory: [memory], currentMemory: [current], vcpu: [vcpu] };
  // rebuild the key order: libvirt does not care, a person reading domain.xml does
  const entries = Object.entries(domain);
  for (const key of Object.keys(domain)) delete domain[key];
  for (const [key, value] of entries) {
    if (key === 'currentMemory' || key === 'vcpu') continue;
    domain[key] = key in sized ? sized[key] : value;
    if (key === 'memory') Object.assign(domain, { currentMemory: sized.currentMemory, vcpu: sized.vcpu });
  }
  // a template without <memory> is refused by parseTemplate; stay whole anyway
  if (!('memory' in domain)) Object.assign(domain, sized);
  if (size.vcpus > 1) addSmpTables(domain);
}

/**
 * An x86 guest finds its vCPUs beyond the first in the ACPI tables (MADT): a kernel booted
 * directly (PVH) has no other source, so without <acpi/> it runs on one CPU whatever <vcpu> says.
 * A guest given several vCPUs gets <acpi/> and <apic/> when its template has none; a one-vCPU
 * guest keeps the template's features, since ACPI costs ~0.8 s of boot under TCG.
 */
export function addSmpTables(domain: XmlElement): void {
  const os = children(domain, 'os')[0];
  const arch = os && children(os, 'type')[0]?.$?.arch;
  if (arch !== undefined && !/^(x86_64|i686)$/.test(arch)) return;
  const features = children(domain, 'features')[0] ?? {};
  if ('acpi' in features) return;
  domain.features = [{ ...features, acpi: [{}], ...('apic' in features ? {} : { apic: [{}] }) }];
}

// A copy of the attributes without the named ones.
function withoutKeys(attrs: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(attrs ?? {}).filter(([k]) => !keys.includes(k)));
}
