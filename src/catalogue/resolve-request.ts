import { VmbatchError } from '../errors/vmbatch-error.js';
import type { BaseSystem, InstancePackage, MetaPackage, NodeRef } from './catalogue-model.js';
import { lookupBase, lookupRef, type CatalogueIndex } from './catalogue-index.js';
import { refusedBy, type SiteRules } from './site-rules.js';

/** What a job asks of the catalogue: RTE names in order, optionally a base system and a domain template. */
export interface RteRequest {
  rtes: string[];
  base?: string | undefined;
  domain?: string | undefined;
}

/** A domain template as resolution sees it: its name, the catalogue VMs it realises, the most memory its guests may have. */
export interface TemplateSummary {
  name: string;
  vms: string[];
  /** the largest guest memory the template allows (<vbsize maxmemory>, else its own or the node's): a VM's kb:mem_kb must fit */
  memoryKiB: number;
}

/** One package the guest gets, in install order (dependencies first). */
export type ResolvedPackage =
  | { kind: 'tar'; name: string; instance: string; urls: string[]; environ: string[]; neededBy: string | undefined }
  | { kind: 'image'; name: string; instance: string; urls: string[]; mountpoint: string | undefined; neededBy: string | undefined }
  /** auto-discovered software: the guest must have the command */
  | { kind: 'command'; name: string; command: string; neededBy: string | undefined };

/** The outcome of resolution: base system, VM, domain template, and the packages in install order. */
export interface RteResolution {
  requested: string[];
  base: string;
  vm: string;
  template: string;
  /** the memory the VM needs (kb:mem_kb), when the catalogue says: the guest gets at least this much */
  vmMemoryKiB?: number;
  packages: ResolvedPackage[];
}

/** What resolution needs beyond the catalogues and the request. */
export interface ResolveContext {
  templates: TemplateSummary[];
  rules: SiteRules;
  defaultDomain: string;
}

/**
 * Resolves a job's RTE request: finds the requested MetaPackages (by name, else by what they
 * provide), then the first base system (catalogue order) that has a virtual machine realised
 * by a domain template of this site and on which every package of the dependency closure has
 * an instance. Cycles, missing dependencies, refused names and conflicts are errors at once;
 * a base that merely lacks something is passed over, and when none is left the reasons for
 * each are reported.
 */
export function resolveRequest(index: CatalogueIndex, request: RteRequest, ctx: ResolveContext): RteResolution {
  const wanted = request.rtes.map((name) => findRequested(index, name, ctx.rules));
  const reasons: string[] = [];
  let memoryError: VmbatchError | undefined;
  const bases = candidateBases(index, wanted, request.base);
  if (request.base !== undefined && !index.baseSystems.some((b) => matchesBase(b, request.base!))) {
    reasons.push(`no BaseSystem of the catalogues is named '${request.base}' or provides it`);
  }
  for (const base of bases) {
    const refused = refusedBy(base.name, ctx.rules.allowBase, ctx.rules.denyBase, 'Base');
    if (refused) {
      reasons.push(`${base.name}: not allowed on this site (${refused})`);
      continue;
    }
    const packages = closureOn(index, base, wanted, ctx.rules);
    if (typeof packages === 'string') {
      reasons.push(`${base.name}: ${packages}`);
      continue;
    }
    const choice = chooseVm(index, base, ctx, request.domain);
    if ('reason' in choice) {
      memoryError ??= choice.memoryError;
      reasons.push(`${base.name}: ${choice.reason}`);
      continue;
    }
    checkConflicts(packages);
    return { requested: request.rtes, base: base.name, vm: choice.vm, template: choice.template, ...(choice.memKb ? { vmMemoryKiB: choice.memKb } : {}), packages };
  }
  // memory alone stood in the way: say exactly that
  if (memoryError && reasons.length === 1) throw memoryError;
  if (bases.length === 0 && request.base === undefined) reasons.push('none of them has an instance (TarPackage or ImagePackage) for any base system');
  throw new VmbatchError('RTE_NO_BASE', { rtes: request.rtes, reasons });
}

// A requested name: the MetaPackage of that name, else the first allowed one that provides it.
function findRequested(index: CatalogueIndex, name: string, rules: SiteRules): MetaPackage {
  const meta = index.metaByName.get(name);
  if (meta && !meta.virtualMachine) {
    const refused = refusedBy(name, rules.allowRte, rules.denyRte, 'Rte');
    if (refused) throw new VmbatchError('RTE_DENIED', { name, rule: refused });
    return meta;
  }
  const providers = index.providers.get(name) ?? [];
  const allowed = providers.find((p) => refusedBy(p.name, rules.allowRte, rules.denyRte, 'Rte') === undefined);
  if (allowed) return allowed;
  if (providers[0]) throw new VmbatchError('RTE_DENIED', { name, rule: `provided only by ${providers.map((p) => p.name).join(', ')}, which the site's rules refuse` });
  if (meta) throw new VmbatchError('RTE_UNSUPPORTED', { name, reason: 'it is a virtual machine; request the software to run in it (the VM is chosen for it)' });
  throw new VmbatchError('RTE_UNKNOWN', { name, similar: similarNames(index, name) });
}

// Names a person may have meant: the same last segment without its version, or the same prefix.
function similarNames(index: CatalogueIndex, name: string): string[] {
  const stem = (n: string) => (n.split('/').pop() ?? n).replace(/[-_.]?\d.*$/, '').toLowerCase();
  const want = stem(name);
  if (want === '') return [];
  const out: string[] = [];
  for (const candidate of index.metaByName.keys()) {
    if (stem(candidate) === want) out.push(candidate);
    if (out.length === 5) break;
  }
  return out;
}

const matchesBase = (base: BaseSystem, name: string) => base.name === name || base.provides.includes(name);

// The bases worth trying, in catalogue order: those an instance of a requested package is
// built for (or that provide such a base), narrowed to the requested base when given.
function candidateBases(index: CatalogueIndex, wanted: MetaPackage[], requested: string | undefined): BaseSystem[] {
  if (requested !== undefined) return index.baseSystems.filter((b) => matchesBase(b, requested));
  const built = new Set<string>();
  for (const meta of wanted) {
    for (const instance of index.instancesOf.get(meta) ?? []) built.add(lookupBase(index, instance.basesystem)?.name ?? instance.basesystem.text);
  }
  // command-only packages run anywhere: then every base is a candidate
  if (wanted.some((m) => (index.instancesOf.get(m) ?? []).length === 0)) return index.baseSystems;
  return index.baseSystems.filter((b) => built.has(b.name) || b.provides.some((p) => built.has(p)));
}

// An instance built for `ref` runs on `base` when that is the base itself or one it provides.
function compatible(index: CatalogueIndex, ref: NodeRef, base: BaseSystem): boolean {
  const target = lookupBase(index, ref);
  const name = target?.name ?? ref.text;
  return target === base || name === base.name || base.provides.includes(name);
}

// The dependency closure on one base, dependencies first. Returns why the base cannot carry
// it, or throws for what no base can fix (cycles, missing or refused packages).
function closureOn(index: CatalogueIndex, base: BaseSystem, wanted: MetaPackage[], rules: SiteRules): ResolvedPackage[] | string {
  const state = new Map<MetaPackage, 'visiting' | 'done'>();
  const forced = new Map<MetaPackage, InstancePackage>();
  const stack: string[] = [];
  const order: ResolvedPackage[] = [];
  let failure: string | undefined;

  const visit = (meta: MetaPackage, neededBy: string | undefined): void => {
    const seen = state.get(meta);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new VmbatchError('RTE_CYCLE', { cycle: [...stack.slice(stack.indexOf(meta.name)), meta.name] });
    const refused = refusedBy(meta.name, rules.allowRte, rules.denyRte, 'Rte');
    if (refused) throw new VmbatchError('RTE_DENIED', { name: meta.name, rule: neededBy ? `${refused}; needed by ${neededBy}` : refused });
    checkName(meta.name);
    state.set(meta, 'visiting');
    stack.push(meta.name);
    const instances = index.instancesOf.get(meta) ?? [];
    let chosen: ResolvedPackage;
    if (instances.length === 0) {
      chosen = discovered(meta, neededBy);
    } else {
      const onBase = instances.filter((i) => compatible(index, i.basesystem, base));
      const usable = onBase.filter((i) => i.type !== 'DebianPackage');
      const instance = forced.get(meta) ?? usable[0];
      if (!instance) {
        const builtFor = [...new Set(instances.map((i) => lookupBase(index, i.basesystem)?.name ?? i.basesystem.text))].join(', ');
        failure ??= onBase.length ? `${meta.name} has only a DebianPackage for ${base.name}, which vmbatch does not install` : `${meta.name} has no instance for it (only for ${builtFor})`;
        stack.pop();
        state.delete(meta);
        return;
      }
      for (const dep of [...meta.depends, ...instance.depends]) {
        const target = dependencyTarget(index, meta.name, dep);
        if (target.type === 'MetaPackage') visit(target, meta.name);
        else {
          const depMeta = index.metaOf.get(target);
          if (!depMeta) throw new VmbatchError('RTE_MISSING_DEPENDENCY', { from: meta.name, ref: `${dep.text} (a package that no MetaPackage lists as kb:instance)` });
          if (!compatible(index, target.basesystem, base)) {
            failure ??= `${meta.name} depends on ${dep.text}, an instance of ${depMeta.name} for ${target.basesystem.text}, not for ${base.name}`;
          } else {
            const other = forced.get(depMeta);
            if (other && other !== target) throw new VmbatchError('RTE_CONFLICT', { problems: [`${depMeta.name} is needed as two different packages: ${other.uri} and ${target.uri}`] });
            forced.set(depMeta, target);
            visit(depMeta, meta.name);
          }
        }
        if (failure) break;
      }
      chosen = resolvedOf(meta, instance, neededBy);
    }
    stack.pop();
    if (failure) return;
    state.set(meta, 'done');
    order.push(chosen);
  };
  for (const meta of wanted) {
    visit(meta, undefined);
    if (failure) return failure;
  }
  return order;
}

// A dependency: a MetaPackage or instance by reference, else a MetaPackage that provides the name.
function dependencyTarget(index: CatalogueIndex, from: string, dep: NodeRef): MetaPackage | InstancePackage {
  const node = lookupRef(index, dep);
  if (node?.type === 'MetaPackage' || node?.type === 'TarPackage' || node?.type === 'ImagePackage' || node?.type === 'DebianPackage') return node;
  const provider = index.providers.get(dep.text)?.[0];
  if (provider) return provider;
  const what = node ? ` (it names a ${node.type}, not a package)` : '';
  throw new VmbatchError('RTE_MISSING_DEPENDENCY', { from, ref: dep.text + what });
}

// A MetaPackage without instances: auto-discovered through a command, or nothing vmbatch can provide.
function discovered(meta: MetaPackage, neededBy: string | undefined): ResolvedPackage {
  if (meta.command !== undefined) {
    if (!/^[A-Za-z0-9._+-]+$/.test(meta.command)) throw new VmbatchError('RTE_UNSUPPORTED', { name: meta.name, reason: `kb:command '${meta.command}' is not a plain command name` });
    return { kind: 'command', name: meta.name, command: meta.command, neededBy };
  }
  if (meta.registryKey !== undefined)
    throw new VmbatchError('RTE_UNSUPPORTED', { name: meta.name, reason: 'it is found through the Windows registry (kb:registrykey), which Linux guests do not have' });
  if (meta.instances.length) throw new VmbatchError('RTE_MISSING_DEPENDENCY', { from: meta.name, ref: `${meta.instances[0]!.text} (its kb:instance)` });
  throw new VmbatchError('RTE_UNSUPPORTED', { name: meta.name, reason: 'the catalogues list no instance (TarPackage or ImagePackage) and no kb:command for it' });
}

function resolvedOf(meta: MetaPackage, instance: InstancePackage, neededBy: string | undefined): ResolvedPackage {
  if (instance.type === 'TarPackage') return { kind: 'tar', name: meta.name, instance: instance.uri, urls: instance.urls, environ: instance.environ, neededBy };
  if (instance.type === 'ImagePackage') {
    // the mount point becomes a word of the guest's scripts
    if (instance.mountpoint !== undefined && !/^\/[A-Za-z0-9._+/-]*$/.test(instance.mountpoint)) {
      throw new VmbatchError('RTE_UNSUPPORTED', { name: meta.name, reason: `its kb:mountpoint '${instance.mountpoint}' is not an absolute path of letters, digits and '._+-/'` });
    }
    return { kind: 'image', name: meta.name, instance: instance.uri, urls: instance.urls, mountpoint: instance.mountpoint, neededBy };
  }
  throw new VmbatchError('RTE_UNSUPPORTED', { name: meta.name, reason: 'its instance is a DebianPackage, which vmbatch does not install (wrap it as a TarPackage)' });
}

// Names become directories in the guest and words in its scripts.
function checkName(name: string): void {
  if (!/^[A-Za-z0-9._+/-]+$/.test(name) || name.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new VmbatchError('RTE_UNSUPPORTED', { name, reason: "its name is not a path of letters, digits and '._+-' (it becomes a directory in the guest)" });
  }
}

// The VM (and template) for a base: a VirtualMachine MetaPackage providing the base (kb:provides
// or kb:os), realised by a template; the job's vbdomain, then the site default, then by name.
function chooseVm(
  index: CatalogueIndex,
  base: BaseSystem,
  ctx: ResolveContext,
  domain: string | undefined,
): { vm: string; template: string; memKb: number | undefined } | { reason: string; memoryError?: VmbatchError } {
  const vms = index.vms.filter((vm) => vm.provides.includes(base.name) || vm.virtualMachine?.os === base.name);
  if (vms.length === 0) return { reason: 'no VirtualMachine MetaPackage of the catalogues provides it' };
  const pairs = vms.flatMap((vm) => ctx.templates.filter((t) => t.vms.includes(vm.name)).map((t) => ({ vm, t })));
  if (pairs.length === 0) return { reason: `no domain template of this site realises ${vms.map((v) => v.name).join(' or ')} (<vbcatalogue vm=...>)` };
  const chosen = domain === undefined ? pairs : pairs.filter((p) => p.t.name === domain);
  if (chosen.length === 0)
    return { reason: `the requested vbdomain=${domain} does not realise ${vms.map((v) => v.name).join(' or ')} (templates that do: ${[...new Set(pairs.map((p) => p.t.name))].join(', ')})` };
  chosen.sort((a, b) => Number(b.t.name === ctx.defaultDomain) - Number(a.t.name === ctx.defaultDomain) || a.t.name.localeCompare(b.t.name));
  const fits = chosen.find((p) => (p.vm.virtualMachine?.memKb ?? 0) <= p.t.memoryKiB);
  if (fits) return { vm: fits.vm.name, template: fits.t.name, memKb: fits.vm.virtualMachine?.memKb };
  const first = chosen[0]!;
  const needKiB = first.vm.virtualMachine!.memKb!;
  return {
    reason: `${first.vm.name} needs ${needKiB} KiB of memory, more than template ${first.t.name} allows (${first.t.memoryKiB} KiB)`,
    memoryError: new VmbatchError('RTE_VM_MEMORY', { vm: first.vm.name, template: first.t.name, needKiB, haveKiB: first.t.memoryKiB }),
  };
}

// What cannot stand together: one variable set to two values, two images on one mount point.
function checkConflicts(packages: ResolvedPackage[]): void {
  const problems: string[] = [];
  const setBy = new Map<string, { value: string; by: string }>();
  for (const p of packages) {
    if (p.kind !== 'tar') continue;
    for (const setting of p.environ) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(setting);
      if (!m) {
        problems.push(`${p.name}: kb:environ '${setting}' is not NAME=VALUE`);
        continue;
      }
      const [, name, value] = m as unknown as [string, string, string];
      const earlier = setBy.get(name);
      if (earlier && earlier.value !== value) problems.push(`${earlier.by} sets ${name}=${earlier.value}, ${p.name} sets ${name}=${value}`);
      else if (!earlier) setBy.set(name, { value, by: p.name });
    }
  }
  const mounted = packages.filter((p): p is Extract<ResolvedPackage, { kind: 'image' }> => p.kind === 'image' && p.mountpoint !== undefined);
  for (const [i, a] of mounted.entries()) {
    for (const b of mounted.slice(i + 1)) {
      const [x, y] = [a.mountpoint!.replace(/\/+$/, ''), b.mountpoint!.replace(/\/+$/, '')];
      if (x === y || y.startsWith(`${x}/`) || x.startsWith(`${y}/`)) problems.push(`${a.name} is mounted at ${a.mountpoint} and ${b.name} at ${b.mountpoint}: one would hide the other`);
    }
  }
  if (problems.length) throw new VmbatchError('RTE_CONFLICT', { problems });
}
