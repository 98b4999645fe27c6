// A realistic RDF/XML software catalogue of any size, for benches: n MetaPackages, each with one
// TarPackage on one of a few BaseSystems, dependencies on lower-numbered packages (so never a
// cycle), some provides and tags, and VM MetaPackages that provide the base systems. The
// writing styles of the seeds are mixed in: names as attributes and as elements, references by
// rdf:resource and by name, instances written inline. Deterministic for a given seed.

/** How to generate a catalogue. */
export interface GenerateCatalogueOptions {
  /** seed of the pseudo-random choices (default 42) */
  seed?: number;
  /** the base systems packages are built for; one VM MetaPackage provides each (default 4 Linux distributions) */
  baseSystems?: string[];
  /** how many tags there are to choose from (default 12) */
  tags?: number;
  /** base of the tarball URLs (default https://rtes.example.org/gen/) */
  urlBase?: string;
}

const defaultBaseSystems = ['Debian-12', 'Ubuntu-22.04', 'Rocky-9', 'Fedora-39'];
const families: Record<string, string> = { Debian: 'Debian.', Ubuntu: 'Debian.', Rocky: 'RedHat.', Fedora: 'RedHat.' };
const topics = ['bio', 'hep', 'chem', 'math', 'climate', 'astro', 'ml', 'imaging', 'stats', 'fluid', 'genomics', 'materials'];

/** An RDF/XML catalogue of `n` MetaPackages (names APPS/GEN/PKG-00042-1.0) and their TarPackages. */
export function generateCatalogue(n: number, opts: GenerateCatalogueOptions = {}): string {
  const random = mulberry32(opts.seed ?? 42);
  const pick = (k: number) => Math.floor(random() * k);
  const bases = opts.baseSystems ?? defaultBaseSystems;
  const tagCount = Math.min(opts.tags ?? 12, topics.length);
  const urlBase = opts.urlBase ?? 'https://rtes.example.org/gen/';
  const name = (i: number) => `APPS/GEN/PKG-${String(i).padStart(5, '0')}-1.0`;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- generated: ${n} MetaPackages on ${bases.length} base systems -->`,
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
    '         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"',
    '         xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">',
    '',
  ];

  bases.forEach((base, b) => {
    const family = families[base.split('-')[0]!];
    out.push(`<kb:BaseSystem rdf:about="#bs-${b}" kb:name="${base}">`, '  <kb:provides>Linux.</kb:provides>');
    if (family) out.push(`  <kb:provides>${family}</kb:provides>`);
    out.push(`  <kb:description>${base.replace('-', ' ')} (x86_64)</kb:description>`, '</kb:BaseSystem>');
  });
  for (let t = 0; t < tagCount; t++) {
    out.push(`<kb:Tag rdf:about="#tag-${t}" kb:name="${topics[t]}"/>`);
  }
  out.push('');

  // the VMs that provide each base system, run on the first one with qemu
  bases.forEach((base, b) => {
    out.push(
      `<kb:MetaPackage rdf:about="#vm-${b}" kb:name="VMLinux/${base}" kb:description="Virtual machine running ${base}">`,
      `  <kb:provides>${base}</kb:provides>`,
      '  <kb:provides>Linux.</kb:provides>',
      `  <kb:instance rdf:resource="#vm-tar-${b}"/>`,
      '  <kb:VirtualMachine>',
      `    <kb:os>${base}</kb:os>`,
      '    <kb:out_port>80</kb:out_port>',
      '    <kb:out_port>443</kb:out_port>',
      '    <kb:in_port>22</kb:in_port>',
      '    <kb:service>ssh</kb:service>',
      '    <kb:Requirements>',
      `      <kb:mem_kb>${(1 + pick(4)) * 524288}</kb:mem_kb>`,
      '    </kb:Requirements>',
      '  </kb:VirtualMachine>',
      '</kb:MetaPackage>',
      `<kb:TarPackage rdf:about="#vm-tar-${b}" kb:url="${urlBase}vm/${base}.img.gz">`,
      '  <kb:basesystem rdf:resource="#bs-0"/>',
      '</kb:TarPackage>',
    );
  });
  out.push('');

  for (let i = 1; i <= n; i++) {
    const about = `#mp-${i}`;
    const tarball = `  <kb:TarPackage rdf:about="#tp-${i}" kb:url="${urlBase}pkg-${i}-1.0.tar.gz">`;
    const base = pick(bases.length);
    // about a third write the name as an element, as Protégé does
    if (i % 3 === 0) out.push(`<kb:MetaPackage rdf:about="${about}">`, `  <kb:name>${name(i)}</kb:name>`);
    else out.push(`<kb:MetaPackage rdf:about="${about}" kb:name="${name(i)}">`);
    out.push(`  <kb:description>Generated package ${i} for the catalogue bench</kb:description>`, `  <kb:lastupdate>2024-${String(1 + (i % 12)).padStart(2, '0')}-15</kb:lastupdate>`);
    for (let p = pick(3); p > 0; p--) out.push(`  <kb:provides>APPS/GEN/FEATURE-${pick(500)}</kb:provides>`);
    for (let t = pick(3); t > 0; t--) out.push(`  <kb:tag rdf:resource="#tag-${pick(tagCount)}"/>`);
    const depends = new Set<number>();
    for (let k = i > 1 ? pick(4) : 0; k > 0; k--) depends.add(1 + pick(i - 1));
    for (const j of depends) {
      // GridFactory also names dependencies instead of pointing at them
      out.push(j % 5 === 0 ? `  <kb:depends>${name(j)}</kb:depends>` : `  <kb:depends rdf:resource="#mp-${j}"/>`);
    }
    const environ = i % 4 === 0 ? [`    <kb:environ>PKG_${i}_HOME=%BASEDIR%</kb:environ>`] : [];
    if (i % 10 === 0) {
      // every tenth instance is written inline
      out.push(
        '  <kb:instance>',
        `  ${tarball}`,
        `      <kb:basesystem rdf:resource="#bs-${base}"/>`,
        ...environ.map((e) => `  ${e}`),
        '    </kb:TarPackage>',
        '  </kb:instance>',
        '</kb:MetaPackage>',
      );
    } else {
      out.push(
        `  <kb:instance rdf:resource="#tp-${i}"/>`,
        '</kb:MetaPackage>',
        tarball.slice(2),
        `  <kb:basesystem rdf:resource="#bs-${base}"/>`,
        ...environ.map((e) => e.slice(2)),
        '</kb:TarPackage>',
      );
    }
  }
  out.push('', '</rdf:RDF>', '');
  return out.join('\n');
}

// a small fast PRNG: the same catalogue for the same seed on every machine
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
