import { z } from 'zod';

// The software catalogue as vmbatch reads it: the kb: vocabulary of the GridFactory note and
// the Janitor manual (MetaPackage, TarPackage, ImagePackage, DebianPackage, BaseSystem, Tag).
// These schemas are the single source of the catalogue's types; read-catalogue.ts fills them
// from RDF/XML and reports every problem with the element at fault.

/**
 * The namespace vmbatch writes the kb: vocabulary in (generated catalogues, docs). Catalogues in
 * the wild bind kb: to different URIs, so the reader recognises the vocabulary by local name in
 * any namespace other than rdf:, rdfs: and xml:.
 */
export const kbNamespace = 'http://www.nordugrid.org/ws/schemas/knowarc#';

/** Where a node was written: catalogue source, line (1-based), column (1-based), and the element's start tag. */
export const sourcePositionSchema = z.object({
  source: z.string(),
  line: z.number().int().positive(),
  column: z.number().int().positive(),
  /** the start tag as a person finds it in the file, e.g. `<kb:TarPackage rdf:about="#6">` */
  element: z.string(),
});
/** Where a node was written. */
export type SourcePosition = z.infer<typeof sourcePositionSchema>;

/**
 * A reference to another node: by rdf:resource (resolved to an absolute URI against the
 * catalogue's base) or by name (GridFactory allows names: `<kb:depends>ENV/Java/JRE-1.5.0</kb:depends>`).
 * `text` is the reference as written; it is tried as a name when no node has `uri`.
 */
export const nodeRefSchema = z.object({
  uri: z.string().optional(),
  text: z.string().min(1),
});
/** A reference to another node. */
export type NodeRef = z.infer<typeof nodeRefSchema>;

/** The kb:VirtualMachine part of a MetaPackage: what the guest offers and needs. */
export const virtualMachineSchema = z.object({
  os: z.string().optional(),
  inPorts: z.array(z.number().int().min(0).max(65535)),
  outPorts: z.array(z.number().int().min(0).max(65535)),
  services: z.array(z.string()),
  privileges: z.array(z.string()),
  /** kb:Requirements/kb:mem_kb: the least memory (KiB) the VM needs */
  memKb: z.number().int().positive().optional(),
});
/** A VirtualMachine description. */
export type VirtualMachine = z.infer<typeof virtualMachineSchema>;

const common = {
  /** absolute URI (rdf:about resolved against the catalogue's base, or a blank node id `_:bN`) */
  uri: z.string().min(1),
  label: z.string().optional(),
  lastUpdate: z.string().optional(),
  at: sourcePositionSchema,
};

/** An abstract package (name + version), realised by instances; a VM MetaPackage has `virtualMachine`. */
export const metaPackageSchema = z.object({
  ...common,
  type: z.literal('MetaPackage'),
  name: z.string().min(1),
  description: z.string().optional(),
  homepage: z.string().optional(),
  instances: z.array(nodeRefSchema),
  provides: z.array(z.string()),
  depends: z.array(nodeRefSchema),
  tags: z.array(nodeRefSchema),
  /** auto-discovered software: installed when this command is available (and exits 0) */
  command: z.string().optional(),
  /** auto-discovered on Windows: path:key of the registry */
  registryKey: z.string().optional(),
  virtualMachine: virtualMachineSchema.optional(),
});
/** A MetaPackage. */
export type MetaPackage = z.infer<typeof metaPackageSchema>;

const instanceCommon = {
  ...common,
  /** download URLs (the first that works is used) */
  urls: z.array(z.string().min(1)),
  basesystem: nodeRefSchema,
  depends: z.array(nodeRefSchema),
};

/** A tarball with control/{install,runtime,remove} and data/. */
export const tarPackageSchema = z.object({
  ...instanceCommon,
  type: z.literal('TarPackage'),
  /** kb:environ: NAME=VALUE settings the job's environment gets before the runtime script */
  environ: z.array(z.string()),
});
/** A TarPackage. */
export type TarPackage = z.infer<typeof tarPackageSchema>;

/** A loop-mountable disk image laid out like an unpacked TarPackage. */
export const imagePackageSchema = z.object({
  ...instanceCommon,
  type: z.literal('ImagePackage'),
  /** where the image is mounted in the guest (absolute); anywhere when absent */
  mountpoint: z.string().optional(),
});
/** An ImagePackage. */
export type ImagePackage = z.infer<typeof imagePackageSchema>;

/** A Janitor DebianPackage: read so it can be named in errors; vmbatch does not install it. */
export const debianPackageSchema = z.object({
  ...common,
  type: z.literal('DebianPackage'),
  packages: z.array(z.string()),
  basesystem: nodeRefSchema,
  depends: z.array(nodeRefSchema),
});
/** A DebianPackage. */
export type DebianPackage = z.infer<typeof debianPackageSchema>;

/** A concrete package: an instance of a MetaPackage. */
export type InstancePackage = TarPackage | ImagePackage | DebianPackage;

/** A platform packages are built for; `provides` lets it match broader requests (Linux., Debian.). */
export const baseSystemSchema = z.object({
  ...common,
  type: z.literal('BaseSystem'),
  name: z.string().min(1),
  provides: z.array(z.string()),
  description: z.string().optional(),
  url: z.string().optional(),
});
/** A BaseSystem. */
export type BaseSystem = z.infer<typeof baseSystemSchema>;

/** A keyword MetaPackages are tagged with. */
export const tagSchema = z.object({
  ...common,
  type: z.literal('Tag'),
  name: z.string().min(1),
  description: z.string().optional(),
});
/** A Tag. */
export type Tag = z.infer<typeof tagSchema>;

/** Any node of the catalogue. */
export type CatalogueNode = MetaPackage | InstancePackage | BaseSystem | Tag;

/** One catalogue source, read and checked. */
export interface Catalogue {
  /** the file path or URL it was read from */
  source: string;
  /** the base URI relative references were resolved against */
  base: string;
  metaPackages: MetaPackage[];
  instances: InstancePackage[];
  baseSystems: BaseSystem[];
  tags: Tag[];
  /** what was read but is not used (unknown kb: elements, other vocabularies), with positions */
  warnings: string[];
}
