import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { makeTar, type TarMember } from './make-tar.js';

/** An RTE tarball in the catalogue's layout: control/install, control/runtime (stages 0, 1, 2) and data/ files. */
export async function makeRteTarball(
  file: string,
  parts: { install?: string; runtime: { 0?: string; 1?: string; 2?: string }; data?: Record<string, string>; noInstall?: boolean },
  gzip = false,
): Promise<void> {
  const members: TarMember[] = [
    { name: 'control', dir: true },
    { name: 'data', dir: true },
  ];
  if (!parts.noInstall) members.push({ name: 'control/install', content: `#!/bin/sh\nset -e\n${parts.install ?? ''}\n`, mode: 0o755 });
  members.push({ name: 'control/runtime', content: runtimeScript(parts.runtime), mode: 0o755 });
  members.push({ name: 'control/remove', content: '#!/bin/sh\n', mode: 0o755 });
  for (const [name, content] of Object.entries(parts.data ?? {})) members.push({ name: `data/${name}`, content, mode: content.startsWith('#!') ? 0o755 : 0o644 });
  await makeTar(file, members, gzip);
}

/** An ImagePackage: an ext2 image (mke2fs -d) holding control/runtime and data/ files. */
export async function makeRteImage(file: string, parts: { runtime: { 0?: string; 1?: string; 2?: string }; data: Record<string, string> }): Promise<void> {
  const tree = mkdtempSync(join(tmpdir(), 'vmbatch-rteimg-'));
  try {
    mkdirSync(join(tree, 'control'));
    writeFileSync(join(tree, 'control', 'runtime'), runtimeScript(parts.runtime), { mode: 0o755 });
    for (const [name, content] of Object.entries(parts.data)) {
      mkdirSync(dirname(join(tree, 'data', name)), { recursive: true });
      writeFileSync(join(tree, 'data', name), content, { mode: 0o644 });
    }
    await execa('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', tree, '-L', 'rteimage', file, '4M']);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

// the Janitor's runtime script shape: a case on the stage, `return 1` for an unknown one
function runtimeScript(stages: { 0?: string; 1?: string; 2?: string }): string {
  return ['#!/bin/sh', 'case "$1" in', `0) ${stages[0] ?? ':'} ;;`, `1) ${stages[1] ?? ':'} ;;`, `2) ${stages[2] ?? ':'} ;;`, '*) return 1 ;;', 'esac', ''].join('\n');
}

/**
 * A catalogue for the test guest: its base system (busybox, `vmbatch-test-guest`), the VM that
 * provides it (VMLinux/vmbatch-test, realised by domains/testguest.xml), and `packages`
 * (RDF/XML of MetaPackages and their instances, on base system `#busybox`).
 */
export function testGuestCatalogue(packages: string): string {
  return `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:kb="http://www.nordugrid.org/ws/schemas/knowarc#">
  <kb:BaseSystem rdf:about="#busybox" kb:name="vmbatch-test-guest"/>
  <kb:MetaPackage rdf:about="#vm" kb:name="VMLinux/vmbatch-test">
    <kb:provides>vmbatch-test-guest</kb:provides>
    <kb:VirtualMachine><kb:os>vmbatch-test-guest</kb:os></kb:VirtualMachine>
  </kb:MetaPackage>
${packages}</rdf:RDF>
`;
}
