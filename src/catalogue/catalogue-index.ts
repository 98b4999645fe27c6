import type { BaseSystem, Catalogue, CatalogueNode, InstancePackage, MetaPackage, NodeRef } from './catalogue-model.js';

/** Several catalogues as one, indexed for resolution: the first catalogue listed wins a name. */
export interface CatalogueIndex {
  catalogues: Catalogue[];
  byUri: Map<string, CatalogueNode>;
  metaByName: Map<string, MetaPackage>;
  /** non-VM MetaPackages by each name they provide */
  providers: Map<string, MetaPackage[]>;
  baseByName: Map<string, BaseSystem>;
  /** the instance packages of each MetaPackage (references resolved; unresolved ones left out) */
  instancesOf: Map<MetaPackage, InstancePackage[]>;
  /** the MetaPackage an instance belongs to */
  metaOf: Map<InstancePackage, MetaPackage>;
  /** MetaPackages with a kb:VirtualMachine */
  vms: MetaPackage[];
  baseSystems: BaseSystem[];
  /** names defined again by a later catalogue, which the earlier one shadows */
  shadowed: string[];
}

/** Indexes catalogues in priority order. */
export function indexCatalogues(catalogues: Catalogue[]): CatalogueIndex {
  const index: CatalogueIndex = {
    catalogues,
    byUri: new Map(),
    metaByName: new Map(),
    providers: new Map(),
    baseByName: new Map(),
    instancesOf: new Map(),
    metaOf: new Map(),
    vms: [],
    baseSystems: [],
    shadowed: [],
  };
  for (const c of catalogues) {
    for (const node of [...c.metaPackages, ...c.instances, ...c.baseSystems, ...c.tags]) if (!index.byUri.has(node.uri)) index.byUri.set(node.uri, node);
    for (const base of c.baseSystems) {
      if (index.baseByName.has(base.name)) index.shadowed.push(`BaseSystem ${base.name} of ${c.source}`);
      else {
        index.baseByName.set(base.name, base);
        index.baseSystems.push(base);
      }
    }
    for (const meta of c.metaPackages) {
      if (index.metaByName.has(meta.name)) {
        index.shadowed.push(`MetaPackage ${meta.name} of ${c.source}`);
        continue;
      }
      index.metaByName.set(meta.name, meta);
      if (meta.virtualMachine) index.vms.push(meta);
      else for (const name of meta.provides) pushTo(index.providers, name, meta);
    }
  }
  // instances are looked up after every catalogue is in, so a later catalogue may realise an earlier MetaPackage
  for (const meta of index.metaByName.values()) {
    const instances = meta.instances.map((ref) => lookupInstance(index, ref)).filter((i): i is InstancePackage => i !== undefined);
    index.instancesOf.set(meta, instances);
    for (const instance of instances) if (!index.metaOf.has(instance)) index.metaOf.set(instance, meta);
  }
  return index;
}

/** The node a reference names: by URI, else by the text as a MetaPackage, BaseSystem or instance name. */
export function lookupRef(index: CatalogueIndex, ref: NodeRef): CatalogueNode | undefined {
  if (ref.uri !== undefined) {
    const node = index.byUri.get(ref.uri);
    if (node) return node;
  }
  return index.metaByName.get(ref.text) ?? index.baseByName.get(ref.text) ?? index.byUri.get(ref.text);
}

/** The BaseSystem a reference names (by URI or name). */
export function lookupBase(index: CatalogueIndex, ref: NodeRef): BaseSystem | undefined {
  const node = lookupRef(index, ref);
  return node?.type === 'BaseSystem' ? node : undefined;
}

function lookupInstance(index: CatalogueIndex, ref: NodeRef): InstancePackage | undefined {
  const node = lookupRef(index, ref);
  return node && (node.type === 'TarPackage' || node.type === 'ImagePackage' || node.type === 'DebianPackage') ? node : undefined;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
